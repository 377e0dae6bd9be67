use super::*;
use clap::Parser;
use std::sync::atomic::{AtomicUsize, Ordering};

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Writes `text` to a fresh temp file; removed when the guard drops.
struct TempFile(PathBuf);
impl TempFile {
    fn new(text: &str) -> TempFile {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "ferrite-config-test-{}-{}.toml",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, text).unwrap();
        TempFile(path)
    }
    fn args(&self) -> ServeArgs {
        ServeArgs {
            config: Some(self.0.clone()),
            ..ServeArgs::default()
        }
    }
}
impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[derive(Parser, Debug)]
struct Cli {
    #[command(flatten)]
    serve: ServeArgs,
}

fn cli(argv: &[&str]) -> ServeArgs {
    Cli::try_parse_from(std::iter::once("ferrite").chain(argv.iter().copied()))
        .unwrap()
        .serve
}

#[test]
fn defaults() {
    let c = Config::load_from(&ServeArgs::default(), Vec::new()).unwrap();
    assert_eq!(c, Config::default());
    assert_eq!(c.server.bind, "127.0.0.1");
    assert_eq!(
        (
            c.server.resp_port,
            c.server.grpc_port,
            c.server.http_port,
            c.server.admin_port
        ),
        (6379, 8080, 8081, 9091)
    );
    assert_eq!(c.server.shutdown_grace_ms, 5000);
    assert!(c.memory.maxmemory > 0);
    assert_eq!(c.memory.maxmemory, default_maxmemory());
    assert_eq!(c.memory.eviction, EvictionPolicy::AllkeysLru);
    assert_eq!(c.memory.eviction_samples, 5);
    assert_eq!(c.memory.shards, 0);
    assert!(c.memory.effective_shards().is_power_of_two());
    assert!(c.memory.effective_shards() >= 4);
    assert_eq!(c.limits.max_bulk_len, 512 * 1024 * 1024);
    assert_eq!(c.limits.max_multibulk_len, 1048576);
    assert_eq!(c.limits.query_buffer_limit, 1 << 30);
    assert_eq!(c.limits.max_clients, 10000);
    assert_eq!(c.limits.reply_buffer_limit, 64 << 20);
    assert_eq!(c.limits.pubsub_reply_buffer_limit, 32 << 20);
    assert_eq!(c.limits.idle_timeout_secs, 0);
    assert_eq!(c.topics.replay_max_messages, 1024);
    assert_eq!(c.topics.replay_max_bytes, 4 << 20);
    assert_eq!(c.topics.replay_max_age_secs, 600);
    assert_eq!(c.topics.max_message_bytes, 1 << 20);
    assert_eq!(c.topics.max_subscribers_per_topic, 100000);
    assert_eq!(c.topics.max_topics_per_cache, 100000);
    assert_eq!(c.topics.heartbeat_interval_secs, 5);
    assert_eq!(c.topics.idle_topic_ttl_secs, 60);
    assert_eq!(c.expiry.active_expire_interval_ms, 100);
    assert_eq!(c.expiry.active_expire_budget, 200);
    assert!(c.is_loopback_only());
    c.validate().unwrap();
}

#[test]
fn meminfo_parsing() {
    let text = "MemTotal:       16318412 kB\nMemFree:         1234 kB\n";
    assert_eq!(parse_meminfo_total(text), Some(16318412 * 1024));
    assert_eq!(parse_meminfo_total("MemFree: 1 kB\n"), None);
    assert_eq!(parse_meminfo_total("MemTotal: x kB\n"), None);
}

#[test]
fn file_overrides_some_keys() {
    let f = TempFile::new(
        r#"
[server]
bind = "0.0.0.0"
resp_port = 7000

[memory]
maxmemory = "2gb"
eviction = "noeviction"

[limits]
max_clients = 500
reply_buffer_limit = 1048576

[topics]
max_message_bytes = "512kb"
"#,
    );
    let c = Config::load_from(&f.args(), Vec::new()).unwrap();
    assert_eq!(c.server.bind, "0.0.0.0");
    assert!(!c.is_loopback_only());
    assert_eq!(c.server.resp_port, 7000);
    assert_eq!(c.server.grpc_port, DEFAULT_GRPC_PORT);
    assert_eq!(c.memory.maxmemory, 2 << 30);
    assert_eq!(c.memory.eviction, EvictionPolicy::Noeviction);
    assert_eq!(c.memory.eviction_samples, DEFAULT_EVICTION_SAMPLES);
    assert_eq!(c.limits.max_clients, 500);
    assert_eq!(c.limits.reply_buffer_limit, 1 << 20);
    assert_eq!(c.topics.max_message_bytes, 512 * 1024);
    assert_eq!(c.expiry, ExpiryConfig::default());
}

#[test]
fn file_errors() {
    let f = TempFile::new("[server]\nresp_portt = 1\n");
    let e = Config::load_from(&f.args(), Vec::new()).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, ConfigError::File { .. }), "{e:?}");
    assert!(msg.contains("resp_portt"), "{msg}");
    assert!(msg.contains(&f.0.display().to_string()), "{msg}");

    let f = TempFile::new("[sever]\nbind = \"::1\"\n");
    let msg = Config::load_from(&f.args(), Vec::new())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("sever"), "{msg}");

    let f = TempFile::new("[memory]\neviction = \"volatile-fifo\"\n");
    let msg = Config::load_from(&f.args(), Vec::new())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("volatile-fifo"), "{msg}");
    let f = TempFile::new("[memory]\neviction = \"volatile-ttl\"\n");
    let c = Config::load_from(&f.args(), Vec::new()).unwrap();
    assert_eq!(c.memory.eviction, EvictionPolicy::VolatileTtl);

    let f = TempFile::new("[memory]\nmaxmemory = \"10xb\"\n");
    assert!(Config::load_from(&f.args(), Vec::new()).is_err());

    let f = TempFile::new("[server]\nresp_port = 70000\n");
    assert!(Config::load_from(&f.args(), Vec::new()).is_err());

    let f = TempFile::new("not toml [");
    assert!(matches!(
        Config::load_from(&f.args(), Vec::new()),
        Err(ConfigError::File { .. })
    ));

    let args = ServeArgs {
        config: Some("/nonexistent/ferrite.toml".into()),
        ..ServeArgs::default()
    };
    let e = Config::load_from(&args, Vec::new()).unwrap_err();
    assert!(matches!(e, ConfigError::Io { .. }), "{e:?}");
    assert!(e.to_string().contains("/nonexistent/ferrite.toml"));
}

#[test]
fn env_overrides() {
    let c = Config::load_from(
        &ServeArgs::default(),
        env(&[
            ("FERRITE_SERVER_RESP_PORT", "7000"),
            ("FERRITE_SERVER_BIND", "::"),
            ("FERRITE_MEMORY_MAXMEMORY", "100mb"),
            ("FERRITE_MEMORY_EVICTION", "noeviction"),
            ("FERRITE_LIMITS_MAX_CLIENTS", "5"),
            ("FERRITE_LIMITS_QUERY_BUFFER_LIMIT", "2GB"),
            ("FERRITE_TOPICS_IDLE_TOPIC_TTL_SECS", " 30 "),
            // Allowlisted and unrelated variables are ignored.
            ("FERRITE_LOG", "debug"),
            ("FERRITE_ENDPOINT", "x"),
            ("FERRITE_TOKEN", "y"),
            ("FERRITE_CONFIG", "/nonexistent"),
            ("HOME", "/root"),
        ]),
    )
    .unwrap();
    assert_eq!(c.server.resp_port, 7000);
    assert_eq!(c.server.bind, "::");
    assert_eq!(c.memory.maxmemory, 104857600);
    assert_eq!(c.memory.eviction, EvictionPolicy::Noeviction);
    assert_eq!(c.limits.max_clients, 5);
    assert_eq!(c.limits.query_buffer_limit, 2 << 30);
    assert_eq!(c.topics.idle_topic_ttl_secs, 30);
}

#[test]
fn env_errors_name_the_variable() {
    let check = |pairs: &[(&str, &str)], want: &str| {
        let e = Config::load_from(&ServeArgs::default(), env(pairs)).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains(want), "{msg}");
        e
    };
    let e = check(
        &[("FERRITE_SERVER_RESP_PORTT", "1")],
        "FERRITE_SERVER_RESP_PORTT",
    );
    assert!(matches!(e, ConfigError::UnknownEnv { .. }));
    check(&[("FERRITE_NOPE_X", "1")], "FERRITE_NOPE_X");
    check(&[("FERRITE_SERVER", "1")], "FERRITE_SERVER");
    check(&[("FERRITE_VERBOSE", "1")], "FERRITE_VERBOSE");
    let e = check(
        &[("FERRITE_LIMITS_MAX_CLIENTS", "many")],
        "FERRITE_LIMITS_MAX_CLIENTS",
    );
    assert!(matches!(e, ConfigError::InvalidEnv { .. }), "{e:?}");
    check(
        &[("FERRITE_SERVER_RESP_PORT", "70000")],
        "FERRITE_SERVER_RESP_PORT",
    );
    check(
        &[("FERRITE_SERVER_RESP_PORT", "-1")],
        "FERRITE_SERVER_RESP_PORT",
    );
    check(
        &[("FERRITE_MEMORY_MAXMEMORY", "lots")],
        "FERRITE_MEMORY_MAXMEMORY",
    );
    check(
        &[("FERRITE_MEMORY_EVICTION", "random")],
        "FERRITE_MEMORY_EVICTION",
    );
    // Validation still runs after env.
    check(&[("FERRITE_MEMORY_MAXMEMORY", "0")], "memory.maxmemory");
}

#[test]
fn cli_overrides_env() {
    let args = cli(&[
        "--resp-port",
        "7001",
        "--maxmemory",
        "512k",
        "--maxclients",
        "9",
        "--bind",
        "::1",
    ]);
    let c = Config::load_from(
        &args,
        env(&[
            ("FERRITE_SERVER_RESP_PORT", "7000"),
            ("FERRITE_SERVER_GRPC_PORT", "7002"),
            ("FERRITE_MEMORY_MAXMEMORY", "100mb"),
            ("FERRITE_LIMITS_MAX_CLIENTS", "5"),
            ("FERRITE_SERVER_BIND", "0.0.0.0"),
        ]),
    )
    .unwrap();
    assert_eq!(c.server.resp_port, 7001);
    assert_eq!(c.server.grpc_port, 7002);
    assert_eq!(c.memory.maxmemory, 512000);
    assert_eq!(c.limits.max_clients, 9);
    assert_eq!(c.server.bind, "::1");
    assert!(c.is_loopback_only());
}

#[test]
fn precedence_chain() {
    // Each layer sets the keys from its own position onwards; the winner of
    // key i must be layer i: default (http), file (grpc), env (admin), cli (resp).
    let f = TempFile::new(
        "[server]\nresp_port = 1001\ngrpc_port = 1002\nadmin_port = 1004\n\
         [memory]\nmaxmemory = 1000\n",
    );
    let mut args = cli(&["--resp-port", "3001", "--config", f.0.to_str().unwrap()]);
    let envs = env(&[
        ("FERRITE_SERVER_RESP_PORT", "2001"),
        ("FERRITE_SERVER_ADMIN_PORT", "2004"),
    ]);
    let c = Config::load_from(&args, envs.clone()).unwrap();
    assert_eq!(c.server.http_port, DEFAULT_HTTP_PORT); // default
    assert_eq!(c.server.grpc_port, 1002); // file
    assert_eq!(c.server.admin_port, 2004); // env over file
    assert_eq!(c.server.resp_port, 3001); // cli over env over file
    assert_eq!(c.memory.maxmemory, 1000); // file

    args.resp_port = None;
    let c = Config::load_from(&args, envs).unwrap();
    assert_eq!(c.server.resp_port, 2001);
    let c = Config::load_from(&args, Vec::new()).unwrap();
    assert_eq!(c.server.resp_port, 1001);
}

#[test]
fn cli_parsing() {
    let a = cli(&[]);
    assert_eq!(a.config, None);
    assert!(!a.print_config);
    let a = cli(&[
        "--config",
        "f.toml",
        "--grpc-port",
        "0",
        "--http-port",
        "0",
        "--admin-port",
        "0",
        "--log-level",
        "debug",
        "--print-config",
        "--maxmemory",
        "1GB",
    ]);
    assert_eq!(a.config, Some(PathBuf::from("f.toml")));
    assert_eq!(
        (a.grpc_port, a.http_port, a.admin_port),
        (Some(0), Some(0), Some(0))
    );
    assert_eq!(a.log_level.as_deref(), Some("debug"));
    assert!(a.print_config);
    assert_eq!(a.maxmemory.as_deref(), Some("1GB"));
    assert!(Cli::try_parse_from(["ferrite", "--maxmemory", "1tb"]).is_err());
    assert!(Cli::try_parse_from(["ferrite", "--resp-port", "65536"]).is_err());

    // Port 0 (pick a free port) is valid, repeatedly.
    let c = Config::load_from(&a_without_file(a), Vec::new()).unwrap();
    assert_eq!(c.server.grpc_port, 0);
    assert_eq!(c.memory.maxmemory, 1 << 30);
}

fn a_without_file(mut a: ServeArgs) -> ServeArgs {
    a.config = None;
    a
}

#[test]
fn bad_maxmemory_flag_from_struct() {
    let args = ServeArgs {
        maxmemory: Some("12q".into()),
        ..ServeArgs::default()
    };
    let msg = Config::load_from(&args, Vec::new())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("--maxmemory"), "{msg}");
}

#[test]
fn print_round_trip() {
    let mut c = Config::default();
    c.server.bind = "0.0.0.0".into();
    c.memory.eviction = EvictionPolicy::Noeviction;
    c.memory.maxmemory = 123_456_789;
    c.memory.shards = 64;
    c.limits.idle_timeout_secs = 300;
    for config in [Config::default(), c] {
        let text = config.to_toml();
        assert!(
            text.contains("[server]") && text.contains("[expiry]"),
            "{text}"
        );
        let back = Config::from_toml_str(&text).unwrap();
        assert_eq!(back, config, "{text}");
        // Via a file and load(), too.
        let f = TempFile::new(&text);
        assert_eq!(Config::load_from(&f.args(), Vec::new()).unwrap(), config);
    }
    assert!(Config::default()
        .to_toml()
        .contains("eviction = \"allkeys-lru\""));
}

#[test]
fn memory_sizes() {
    let ok = [
        ("0", 0),
        ("12345", 12345),
        ("1b", 1),
        ("1B", 1),
        ("512k", 512_000),
        ("512K", 512_000),
        ("512kb", 524_288),
        ("512KB", 524_288),
        ("1m", 1_000_000),
        ("100mb", 104_857_600),
        ("100Mb", 104_857_600),
        ("1g", 1_000_000_000),
        ("1gb", 1_073_741_824),
        ("4GB", 4_294_967_296),
        (" 2mb ", 2 * 1024 * 1024),
        ("18446744073709551615", u64::MAX),
    ];
    for (s, want) in ok {
        assert_eq!(parse_memory_size(s).unwrap(), want, "{s}");
    }
    for s in [
        "",
        " ",
        "mb",
        "-1",
        "-1mb",
        "1.5gb",
        "1 gb",
        "1tb",
        "1kib",
        "10x",
        "abc",
        "18446744073709551616",
        "18446744073709551615kb",
        "+5",
    ] {
        let e = parse_memory_size(s).unwrap_err();
        assert!(matches!(e, ConfigError::InvalidMemorySize { .. }), "{s}");
    }
}

#[test]
fn eviction_policy_names() {
    for p in EvictionPolicy::ALL {
        assert_eq!(p.to_string().parse::<EvictionPolicy>().unwrap(), p);
    }
    assert_eq!(
        "volatile-ttl".parse::<EvictionPolicy>().unwrap(),
        EvictionPolicy::VolatileTtl
    );
    assert_eq!(
        "ALLKEYS-LRU".parse::<EvictionPolicy>().unwrap(),
        EvictionPolicy::AllkeysLru
    );
    assert!("lru".parse::<EvictionPolicy>().is_err());
}

#[test]
fn validate_errors() {
    let check = |f: &dyn Fn(&mut Config), key: &str| {
        let mut c = Config::default();
        f(&mut c);
        match c.validate() {
            Err(ConfigError::Invalid { key: k, message }) => {
                assert_eq!(k, key, "{message}");
                assert!(!message.is_empty());
            }
            other => panic!("{key}: expected an error, got {other:?}"),
        }
    };
    check(&|c| c.server.bind = "localhost".into(), "server.bind");
    check(&|c| c.server.bind = "".into(), "server.bind");
    check(&|c| c.server.grpc_port = 6379, "server.grpc_port");
    check(
        &|c| c.server.admin_port = c.server.http_port,
        "server.admin_port",
    );
    check(&|c| c.memory.maxmemory = 0, "memory.maxmemory");
    check(&|c| c.memory.maxmemory = u64::MAX, "memory.maxmemory");
    check(
        &|c| c.memory.eviction_samples = 0,
        "memory.eviction_samples",
    );
    check(
        &|c| c.memory.eviction_samples = 65,
        "memory.eviction_samples",
    );
    check(&|c| c.memory.shards = 3, "memory.shards");
    check(&|c| c.memory.shards = 1 << 20, "memory.shards");
    check(&|c| c.limits.max_bulk_len = 0, "limits.max_bulk_len");
    check(
        &|c| c.limits.max_multibulk_len = 0,
        "limits.max_multibulk_len",
    );
    check(
        &|c| c.limits.query_buffer_limit = 0,
        "limits.query_buffer_limit",
    );
    check(&|c| c.limits.max_clients = 0, "limits.max_clients");
    check(
        &|c| c.limits.reply_buffer_limit = 0,
        "limits.reply_buffer_limit",
    );
    check(
        &|c| c.limits.pubsub_reply_buffer_limit = 0,
        "limits.pubsub_reply_buffer_limit",
    );
    check(
        &|c| c.topics.replay_max_messages = 0,
        "topics.replay_max_messages",
    );
    check(
        &|c| c.topics.replay_max_bytes = 0,
        "topics.replay_max_bytes",
    );
    check(
        &|c| c.topics.max_message_bytes = 0,
        "topics.max_message_bytes",
    );
    check(
        &|c| c.topics.heartbeat_interval_secs = 0,
        "topics.heartbeat_interval_secs",
    );
    check(
        &|c| c.expiry.active_expire_interval_ms = 0,
        "expiry.active_expire_interval_ms",
    );
    check(
        &|c| c.expiry.active_expire_budget = 0,
        "expiry.active_expire_budget",
    );

    // Valid edge cases.
    let mut c = Config::default();
    c.server.resp_port = 0;
    c.server.grpc_port = 0;
    c.server.http_port = 0;
    c.server.admin_port = 0;
    c.server.bind = "::".into();
    c.memory.shards = 1;
    c.memory.eviction_samples = 64;
    c.limits.idle_timeout_secs = 0;
    c.server.shutdown_grace_ms = 0;
    c.validate().unwrap();
    assert!(!c.is_loopback_only());

    let msg = invalid("memory.maxmemory", "must be greater than 0").to_string();
    assert!(msg.contains("memory.maxmemory"));
}

#[test]
fn loopback() {
    let mut c = Config::default();
    for (bind, lo) in [
        ("127.0.0.1", true),
        ("127.1.2.3", true),
        ("::1", true),
        ("0.0.0.0", false),
        ("::", false),
        ("10.0.0.1", false),
        ("localhost", false),
    ] {
        c.server.bind = bind.into();
        assert_eq!(c.is_loopback_only(), lo, "{bind}");
    }
}

#[test]
fn grpc_section_from_file_and_env() {
    let c = Config::load_from(
        &ServeArgs::default(),
        env(&[
            ("FERRITE_GRPC_MAX_PUBLISH_BYTES", "8kb"),
            ("FERRITE_GRPC_MAX_TTL_SECS", "3600"),
        ]),
    )
    .unwrap();
    assert_eq!(c.grpc.max_publish_bytes, 8 * 1024);
    assert_eq!(c.grpc.max_ttl_secs, 3600);
    assert_eq!(c.grpc.max_item_bytes, DEFAULT_GRPC_MAX_ITEM_BYTES);
    let err = Config::load_from(
        &ServeArgs::default(),
        env(&[("FERRITE_GRPC_MAX_CONCURRENT_STREAMS", "10")]),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("grpc.max_concurrent_streams"), "{err}");
}

#[test]
fn http_section_from_file_and_env() {
    let c = Config::from_toml_str(
        "[http]\ncors_allowed_origins = [\"https://a.example\", \"http://localhost:3000\"]\n\
         max_body_bytes = \"1mb\"\nlong_poll_max_wait_ms = 250\n",
    )
    .unwrap();
    c.validate().unwrap();
    assert_eq!(
        c.http.cors_allowed_origins,
        ["https://a.example", "http://localhost:3000"]
    );
    assert_eq!(c.http.max_body_bytes, 1024 * 1024);
    assert_eq!(c.http.long_poll_max_wait_ms, 250);
    assert_eq!(c.http.long_poll_max_items, DEFAULT_HTTP_LONG_POLL_MAX_ITEMS);
    // The printed configuration reads back the same.
    assert_eq!(Config::from_toml_str(&c.to_toml()).unwrap(), c);

    let c = Config::load_from(
        &ServeArgs::default(),
        env(&[
            (
                "FERRITE_HTTP_CORS_ALLOWED_ORIGINS",
                "https://a.example, https://b.example",
            ),
            ("FERRITE_HTTP_LONG_POLL_MAX_ITEMS", "7"),
        ]),
    )
    .unwrap();
    assert_eq!(
        c.http.cors_allowed_origins,
        ["https://a.example", "https://b.example"]
    );
    assert_eq!(c.http.long_poll_max_items, 7);
    assert_eq!(
        Config::default().http.cors_allowed_origins,
        Vec::<String>::new()
    );

    for (origins, ok) in [
        (vec!["*"], true),
        (vec!["*", "https://a.example"], false),
        (vec!["https://a.example/"], false),
        (vec!["a.example"], false),
        (vec!["https://a.example:8443"], true),
    ] {
        let mut c = Config::default();
        c.http.cors_allowed_origins = origins.iter().map(|s| s.to_string()).collect();
        match c.validate() {
            Ok(()) => assert!(ok, "{origins:?} accepted"),
            Err(e) => {
                assert!(!ok, "{origins:?}: {e}");
                assert!(e.to_string().contains("http.cors_allowed_origins"), "{e}");
            }
        }
    }
    let mut c = Config::default();
    c.http.max_subscriptions = 0;
    assert!(c
        .validate()
        .unwrap_err()
        .to_string()
        .contains("http.max_subscriptions"));
    let mut c = Config::default();
    c.http.long_poll_max_wait_ms = 0;
    assert!(c
        .validate()
        .unwrap_err()
        .to_string()
        .contains("http.long_poll_max_wait_ms"));
}

#[test]
fn connection_timeouts_from_file_env_and_validation() {
    let d = Config::default();
    assert_eq!(
        (
            d.http.header_read_timeout_ms,
            d.http.idle_timeout_ms,
            d.grpc.handshake_timeout_ms
        ),
        (
            DEFAULT_HTTP_HEADER_READ_TIMEOUT_MS,
            DEFAULT_HTTP_IDLE_TIMEOUT_MS,
            DEFAULT_GRPC_HANDSHAKE_TIMEOUT_MS
        )
    );
    let c = Config::from_toml_str(
        "[http]\nheader_read_timeout_ms = 300\nidle_timeout_ms = 400\n\
         [grpc]\nhandshake_timeout_ms = 500\n",
    )
    .unwrap();
    c.validate().unwrap();
    assert_eq!(
        (
            c.http.header_read_timeout_ms,
            c.http.idle_timeout_ms,
            c.grpc.handshake_timeout_ms
        ),
        (300, 400, 500)
    );
    assert_eq!(Config::from_toml_str(&c.to_toml()).unwrap(), c);
    let c = Config::load_from(
        &ServeArgs::default(),
        env(&[
            ("FERRITE_HTTP_HEADER_READ_TIMEOUT_MS", "1500"),
            ("FERRITE_HTTP_IDLE_TIMEOUT_MS", "2500"),
            ("FERRITE_GRPC_HANDSHAKE_TIMEOUT_MS", "3500"),
        ]),
    )
    .unwrap();
    assert_eq!(c.http.header_read_timeout_ms, 1500);
    assert_eq!(c.http.idle_timeout_ms, 2500);
    assert_eq!(c.grpc.handshake_timeout_ms, 3500);
    // 0 is refused rather than meaning "off": an unbounded wait is what slowloris needs.
    type Set = fn(&mut Config);
    let zero: [(Set, &str); 3] = [
        (
            |c| c.http.header_read_timeout_ms = 0,
            "http.header_read_timeout_ms",
        ),
        (|c| c.http.idle_timeout_ms = 0, "http.idle_timeout_ms"),
        (
            |c| c.grpc.handshake_timeout_ms = 0,
            "grpc.handshake_timeout_ms",
        ),
    ];
    for (set, key) in zero {
        let mut c = Config::default();
        set(&mut c);
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains(key), "{e}");
    }
}

#[test]
fn quotas_defaults_are_unlimited_and_overrides_inherit() {
    let c = Config::default();
    assert!(!c.quotas.any_limit());
    let c = Config::from_toml_str(
        r#"
[quotas]
cache_ops_per_sec = 100
token_bytes_per_sec = "1mb"
volume_period_secs = 60
[quotas.caches.hot]
ops_per_sec = 5
volume_bytes = "2kb"
"#,
    )
    .unwrap();
    c.validate().unwrap();
    assert!(c.quotas.any_limit());
    assert_eq!(c.quotas.for_cache("other").ops_per_sec, 100);
    let hot = c.quotas.for_cache("hot");
    assert_eq!(
        (hot.ops_per_sec, hot.bytes_per_sec, hot.volume_bytes),
        (5, 0, 2048)
    );
    assert_eq!(c.quotas.for_token("anonymous").bytes_per_sec, 1024 * 1024);
    // --print-config output parses back to the same configuration.
    assert_eq!(Config::from_toml_str(&c.to_toml()).unwrap(), c);
}

#[test]
fn quotas_env_and_validation() {
    let c = Config::load_from(
        &ServeArgs::default(),
        env(&[
            ("FERRITE_QUOTAS_TOKEN_OPS_PER_SEC", "7"),
            ("FERRITE_METERING_MAX_TRACKED_KEYS", "3"),
        ]),
    )
    .unwrap();
    assert_eq!(c.quotas.token_ops_per_sec, 7);
    assert_eq!(c.metering.max_tracked_keys, 3);
    let bad = Config::from_toml_str("[quotas]\nvolume_period_secs = 0\n").unwrap();
    assert!(bad
        .validate()
        .unwrap_err()
        .to_string()
        .contains("quotas.volume_period_secs"));
    let bad = Config::from_toml_str("[metering]\nmax_tracked_keys = 0\n").unwrap();
    assert!(bad
        .validate()
        .unwrap_err()
        .to_string()
        .contains("metering.max_tracked_keys"));
    assert!(Config::from_toml_str("[quotas.caches.x]\nops = 1\n").is_err());
}

#[test]
fn auth_mode_resolution() {
    // loopback: auto = none; public: auto = token, which needs a key file
    let mut c = Config::default();
    assert_eq!(c.effective_auth_mode().unwrap(), AuthMode::None);
    c.server.bind = "0.0.0.0".into();
    let e = c.effective_auth_mode().unwrap_err().to_string();
    assert!(e.contains("auth.token_key_file"), "{e}");
    c.auth.token_key_file = "/tmp/k".into();
    assert_eq!(c.effective_auth_mode().unwrap(), AuthMode::Token);
    // explicit none on a public bind is refused unless forced
    c.auth.mode = AuthMode::None;
    let e = c.effective_auth_mode().unwrap_err().to_string();
    assert!(e.contains("auth.mode"), "{e}");
    c.auth.allow_none_on_public = true;
    assert_eq!(c.effective_auth_mode().unwrap(), AuthMode::None);
    // flags and environment
    let args = ServeArgs {
        auth_mode: Some("token".into()),
        token_key: Some("/tmp/key".into()),
        ..Default::default()
    };
    let c = Config::load_from(&args, Vec::new()).unwrap();
    assert_eq!(c.auth.mode, AuthMode::Token);
    assert_eq!(c.auth.token_key_file, "/tmp/key");
    let c = Config::load_from(
        &ServeArgs::default(),
        env(&[
            ("FERRITE_AUTH_MODE", "token"),
            ("FERRITE_AUTH_MAX_TOKEN_TTL_SECS", "60"),
        ]),
    )
    .unwrap();
    assert_eq!(c.auth.mode, AuthMode::Token);
    assert_eq!(c.auth.max_token_ttl_secs, 60);
    assert!(Config::load_from(
        &ServeArgs::default(),
        env(&[("FERRITE_AUTH_MODE", "sometimes")])
    )
    .is_err());
}

#[test]
fn tls_is_off_by_default_and_on_per_listener() {
    let c = Config::default();
    assert!(!c.tls.enabled());
    for l in [
        Listener::Resp,
        Listener::Grpc,
        Listener::Http,
        Listener::Admin,
    ] {
        assert!(!c.tls.on_for(l), "{l:?}");
    }
    let mut t = TlsConfig {
        self_signed: true,
        grpc: false,
        ..TlsConfig::default()
    };
    assert!(t.enabled());
    assert!(t.on_for(Listener::Resp));
    assert!(!t.on_for(Listener::Grpc));
    assert!(t.on_for(Listener::Http));
    t.self_signed = false;
    assert!(!t.on_for(Listener::Resp));
}

#[test]
fn tls_flags_env_and_file() {
    let cert = TempFile::new("not checked here: only readability is");
    let key = TempFile::new("key");
    let cert_path = cert.0.to_string_lossy().into_owned();
    let key_path = key.0.to_string_lossy().into_owned();

    let args = cli(&["--tls-cert", &cert_path, "--tls-key", &key_path]);
    let c = Config::load_from(&args, env(&[])).unwrap();
    assert_eq!(c.tls.cert_file, cert_path);
    assert_eq!(c.tls.key_file, key_path);
    assert!(c.tls.on_for(Listener::Resp));

    let c = Config::load_from(&cli(&["--tls-self-signed"]), env(&[])).unwrap();
    assert!(c.tls.self_signed);

    let c = Config::load_from(
        &ServeArgs::default(),
        env(&[
            ("FERRITE_TLS_CERT_FILE", &cert_path),
            ("FERRITE_TLS_KEY_FILE", &key_path),
            ("FERRITE_TLS_RESP", "false"),
            ("FERRITE_TLS_HANDSHAKE_TIMEOUT_MS", "2500"),
        ]),
    )
    .unwrap();
    assert_eq!(c.tls.cert_file, cert_path);
    assert!(!c.tls.on_for(Listener::Resp));
    assert!(c.tls.on_for(Listener::Grpc));
    assert_eq!(c.tls.handshake_timeout_ms, 2500);

    let file =
        TempFile::new("[tls]\nself_signed = true\nself_signed_cert_out = \"\"\nadmin = false\n");
    let c = Config::load_from(&file.args(), env(&[])).unwrap();
    assert!(c.tls.self_signed && !c.tls.admin);
    assert_eq!(c.tls.self_signed_cert_out, "");
    // The printed configuration reads back the same.
    assert_eq!(Config::from_toml_str(&c.to_toml()).unwrap(), c);
}

#[test]
fn tls_validation_errors() {
    let cert = TempFile::new("cert");
    let cert_path = cert.0.to_string_lossy().into_owned();
    let err = |t: TlsConfig| {
        let c = Config {
            tls: t,
            ..Config::default()
        };
        c.validate().unwrap_err().to_string()
    };
    // Certificate without key, key without certificate.
    let e = err(TlsConfig {
        cert_file: cert_path.clone(),
        ..TlsConfig::default()
    });
    assert!(e.contains("tls.key_file") && e.contains("both"), "{e}");
    let e = err(TlsConfig {
        key_file: cert_path.clone(),
        ..TlsConfig::default()
    });
    assert!(e.contains("tls.cert_file") && e.contains("both"), "{e}");
    // A file that isn't there names the key and the path.
    let missing = "/nonexistent/ferrite-test/key.pem";
    let e = err(TlsConfig {
        cert_file: cert_path.clone(),
        key_file: missing.into(),
        ..TlsConfig::default()
    });
    assert!(e.contains("tls.key_file") && e.contains(missing), "{e}");
    // Own certificate and a generated one at once.
    let e = err(TlsConfig {
        cert_file: cert_path.clone(),
        key_file: cert_path.clone(),
        self_signed: true,
        ..TlsConfig::default()
    });
    assert!(e.contains("tls.self_signed"), "{e}");
    let e = err(TlsConfig {
        self_signed: true,
        handshake_timeout_ms: 0,
        ..TlsConfig::default()
    });
    assert!(e.contains("tls.handshake_timeout_ms"), "{e}");
    // The flag path reports the same way.
    let e = Config::load_from(&cli(&["--tls-cert", &cert_path]), env(&[]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("tls.key_file"), "{e}");
}

#[test]
fn worker_threads_auto_and_explicit() {
    let c = Config::default();
    assert_eq!(c.server.worker_threads, 0);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(c.server.effective_worker_threads(), cpus);
    let c = Config::load_from(
        &ServeArgs::default(),
        env(&[("FERRITE_SERVER_WORKER_THREADS", "3")]),
    )
    .unwrap();
    assert_eq!(c.server.effective_worker_threads(), 3);
    assert_eq!(Config::from_toml_str(&c.to_toml()).unwrap(), c);
}

#[test]
fn notifications_section_takes_redis_classes() {
    let c = Config::load_from(
        &ServeArgs::default(),
        env(&[
            ("FERRITE_NOTIFICATIONS_KEYSPACE_EVENTS", "KEA"),
            ("FERRITE_NOTIFICATIONS_QUEUE_CAPACITY", "10"),
        ]),
    )
    .unwrap();
    assert_eq!(c.notifications.keyspace_events, "KEA");
    assert_eq!(c.notifications.queue_capacity, 10);
    assert_eq!(Config::default().notifications.keyspace_events, "");
    let c = Config::from_toml_str("[notifications]\nkeyspace_events = \"Ex\"\n").unwrap();
    assert_eq!(c.notifications.keyspace_events, "Ex");
    for bad in ["KEw", "kea"] {
        let mut c = Config::default();
        c.notifications.keyspace_events = bad.into();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("notifications.keyspace_events"), "{e}");
    }
    let mut c = Config::default();
    c.notifications.queue_capacity = 0;
    assert!(c.validate().is_err());
}
