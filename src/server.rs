//! Starting, running and stopping the server: binds the listeners, runs background jobs
//! (active expiry), and drains connections on shutdown.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ferrite_config::{Config, Listener};
use ferrite_storage::{EvictionPolicy, Store, StoreConfig, SystemClock};
use parking_lot::{Mutex, RwLock};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::resp::client::{ClientInfo, ClientRegistry};
use crate::resp::conn::serve_connection;
use crate::resp::waiters::KeyWaiters;
use crate::shared::{ServerStats, Shared};
use crate::tls::{Alpn, ServerTls};

/// A started server: its bound addresses and a handle to stop it.
pub struct Running {
    pub resp_addr: SocketAddr,
    /// The Momento-compatible gRPC listener's bound address.
    pub grpc_addr: SocketAddr,
    /// The HTTP API listener's bound address.
    pub http_addr: SocketAddr,
    /// The protosocket listener's bound address (`None` unless `server.protosocket_enabled`).
    pub protosocket_addr: Option<SocketAddr>,
    pub shared: Arc<Shared>,
    /// The TLS identity every TLS listener serves (None when `[tls]` is off); which listeners
    /// use it is `config.tls.on_for(listener)`.
    pub tls: Option<Arc<ServerTls>>,
    tasks: Mutex<Option<JoinSet<()>>>,
    /// The gRPC server: on shutdown it stops accepting and finishes in-flight calls.
    grpc_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// The HTTP server: drains like the gRPC one.
    http_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// The admin endpoint's bound address (`None` when `admin.enabled` is false).
    pub admin_addr: Option<SocketAddr>,
    /// The admin endpoint (own thread and runtime); stopped last in `wait`.
    admin: Mutex<Option<crate::admin::AdminServer>>,
}

pub fn store_config(cfg: &Config) -> StoreConfig {
    StoreConfig {
        maxmemory: cfg.memory.maxmemory,
        policy: EvictionPolicy::parse(cfg.memory.eviction.as_str())
            .expect("the config's policies are the engine's"),
        eviction_samples: cfg.memory.eviction_samples,
        shards: cfg.memory.effective_shards(),
        expire_budget: cfg.expiry.active_expire_budget,
    }
}

pub fn topics_config(cfg: &Config) -> ferrite_topics::TopicsConfig {
    let t = &cfg.topics;
    ferrite_topics::TopicsConfig {
        replay: ferrite_topics::ReplayWindow {
            max_messages: t.replay_max_messages,
            max_bytes: t.replay_max_bytes as usize,
            max_age: Duration::from_secs(t.replay_max_age_secs),
        },
        max_message_bytes: t.max_message_bytes as usize,
        max_subscribers_per_topic: t.max_subscribers_per_topic,
        max_topics_per_cache: t.max_topics_per_cache,
        idle_topic_ttl: Duration::from_secs(t.idle_topic_ttl_secs),
        heartbeat_interval: Duration::from_secs(t.heartbeat_interval_secs),
        subscribe_backlog: t.subscribe_backlog,
        ..Default::default()
    }
}

impl Running {
    /// Bind every listener and start serving. Port 0 picks a free port (see `resp_addr`).
    pub async fn start(config: Config) -> anyhow::Result<Running> {
        let auth = ferrite_service::authz::Auth::from_config(&config)?;
        // TLS first: a bad certificate or key stops the start before any port is bound.
        let tls = ServerTls::from_config(&config.tls, &config.server.bind)?;
        let resp_tls = tls.clone().filter(|_| config.tls.on_for(Listener::Resp));
        let grpc_tls = tls.clone().filter(|_| config.tls.on_for(Listener::Grpc));
        let http_tls = tls.clone().filter(|_| config.tls.on_for(Listener::Http));
        let admin_tls = tls.clone().filter(|_| config.tls.on_for(Listener::Admin));
        // One clock for both engines: TTLs and topic publish times read the same time source.
        let clock: ferrite_storage::SharedClock = Arc::new(SystemClock);
        let store = Store::new(store_config(&config), clock.clone());
        let (shutdown_tx, _) = watch::channel(false);
        let bind = format!("{}:{}", config.server.bind, config.server.resp_port);
        let backlog = config.server.tcp_backlog;
        let listener = crate::net::bind(&bind, backlog)
            .await
            .with_context(|| format!("binding RESP listener on {bind}"))?;
        let resp_addr = listener.local_addr()?;
        let (grpc_listener, grpc_addr) =
            crate::grpc::bind(&config.server.bind, config.server.grpc_port, backlog).await?;
        let (http_listener, http_addr) =
            crate::http::bind(&config.server.bind, config.server.http_port, backlog).await?;
        let protosocket = if config.server.protosocket_enabled {
            if config.tls.enabled() {
                anyhow::bail!(
                    "server.protosocket_enabled: the protosocket listener speaks plaintext only, and with [tls] on it would carry tokens in the clear; turn one of them off"
                );
            }
            Some(
                crate::protosocket::bind(
                    &config.server.bind,
                    config.server.protosocket_port,
                    backlog,
                )
                .await?,
            )
        } else {
            None
        };
        let protosocket_addr = protosocket.as_ref().map(|(_, a)| *a);
        let now = store.now_ms();
        let topics = ferrite_topics::Topics::with_clock(topics_config(&config), clock);
        crate::shared::share_memory_budget(&store, &topics);
        let metering = ferrite_service::Metering::new(config.metering.max_tracked_keys);
        let quotas = ferrite_service::Quotas::new(&config.quotas);
        let resp_input =
            crate::resp::inflight::InputBudget::new(config.limits.resp_input_budget as usize);
        // The change feed's store-wide listeners: every write, whoever makes it, reaches them.
        let waiters = Arc::new(KeyWaiters::default());
        store.add_listener(waiters.clone());
        let keyspace_events = ferrite_service::keyspace_events::KeyspaceEvents::new(
            config.notifications.queue_capacity,
        );
        store.add_listener(keyspace_events.clone());
        let tracking = crate::resp::tracking::Tracking::new(store.budget_handle());
        store.add_listener(tracking.clone());
        if let Some(f) = ferrite_service::keyspace_events::parse_classes(
            config.notifications.keyspace_events.as_bytes(),
        ) {
            keyspace_events.set_classes(&store, f);
        }
        let limits = ferrite_service::Limits::from_config(&config.grpc);
        let service = ferrite_service::Service::new(store, topics, auth, metering, quotas, limits);
        let shared = Arc::new(Shared {
            service,
            resp_input,
            config: RwLock::new(config),
            clients: ClientRegistry::default(),
            waiters,
            keyspace_events,
            stats: ServerStats::default(),
            started_ms: now,
            run_id: format!("{:040x}", rand::random::<u128>()),
            shutdown: shutdown_tx,
            resp_addr: RwLock::new(Some(resp_addr)),
            redis_params: Default::default(),
            hll_sparse_max_bytes: std::sync::atomic::AtomicUsize::new(
                crate::resp::commands::hll::SPARSE_MAX_BYTES,
            ),
            introspection: Default::default(),
            acl_log: Default::default(),
            scripts: Default::default(),
            tracking,
            migrate_sockets: Default::default(),
        });
        tracing::info!(%resp_addr, tls = resp_tls.is_some(), "RESP listener bound");
        tracing::info!(%grpc_addr, tls = grpc_tls.is_some(), "gRPC (Momento) listener bound");
        tracing::info!(%http_addr, tls = http_tls.is_some(), "HTTP API listener bound");
        if let Some(addr) = protosocket_addr {
            tracing::info!(%addr, "protosocket (Momento fast path) listener bound");
        }

        let mut tasks = JoinSet::new();
        tasks.spawn(accept_loop(shared.clone(), listener, resp_tls));
        if let Some((listener, _)) = protosocket {
            tasks.spawn(crate::protosocket::serve(shared.clone(), listener));
        }
        tasks.spawn(active_expiry(shared.clone()));
        tasks.spawn(shared.keyspace_events.clone().run(shared.topics.clone()));
        tasks.spawn(sweep_topics(shared.clone()));
        tasks.spawn(background_eviction(shared.clone()));
        tasks.spawn(retire_tenants(shared.clone()));
        if shared.auth.enforcing() {
            tasks.spawn(reload_revocations(shared.clone()));
        }
        let grpc_task = tokio::spawn(crate::grpc::serve(
            shared.clone(),
            grpc_listener,
            crate::grpc::GrpcLimits::from_config(&shared.config.read().grpc),
            grpc_tls,
        ));
        let http_task = {
            let cfg = shared.config.read();
            tokio::spawn(crate::http::serve(
                shared.clone(),
                http_listener,
                crate::http::HttpSettings::from_config(
                    &cfg.http,
                    cfg.topics.heartbeat_interval_secs,
                ),
                http_tls,
            ))
        };
        // Admin last: `/readyz` turns ready once every other listener is bound.
        let admin = {
            let c = shared.config.read();
            c.admin
                .enabled
                .then(|| (c.server.bind.clone(), c.server.admin_port))
        };
        let admin = match admin {
            Some((bind, port)) => Some(crate::admin::AdminServer::start(
                shared.clone(),
                &bind,
                port,
                admin_tls,
            )?),
            None => None,
        };
        if let Some(a) = &admin {
            a.set_ready();
        }
        Ok(Running {
            resp_addr,
            grpc_addr,
            http_addr,
            protosocket_addr,
            shared,
            tls,
            tasks: Mutex::new(Some(tasks)),
            grpc_task: Mutex::new(Some(grpc_task)),
            http_task: Mutex::new(Some(http_task)),
            admin_addr: admin.as_ref().map(|a| a.addr()),
            admin: Mutex::new(admin),
        })
    }

    /// Ask the server to stop (same as SIGTERM or SHUTDOWN).
    pub fn shutdown(&self) {
        self.shared.request_shutdown();
    }

    /// Wait until shutdown was requested and connections drained (bounded by the grace period).
    pub async fn wait(&self) {
        let mut rx = self.shared.shutdown.subscribe();
        while !*rx.borrow_and_update() {
            if rx.changed().await.is_err() {
                break;
            }
        }
        let grace = Duration::from_millis(self.shared.config.read().server.shutdown_grace_ms);
        let deadline = tokio::time::Instant::now() + grace;
        while !self.shared.clients.is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // gRPC drains itself (graceful hyper shutdown; subscription streams end with
        // UNAVAILABLE); give it what is left of the grace period, then cut it off.
        let grpc = self.grpc_task.lock().take();
        if let Some(mut handle) = grpc {
            if tokio::time::timeout_at(deadline, &mut handle)
                .await
                .is_err()
            {
                handle.abort();
            }
        }
        // HTTP likewise (long polls answer 503 and SSE streams end at once on shutdown).
        let http = self.http_task.lock().take();
        if let Some(mut handle) = http {
            if tokio::time::timeout_at(deadline, &mut handle)
                .await
                .is_err()
            {
                handle.abort();
            }
        }
        // Past the grace period: force-close whoever is left.
        self.shared.clients.kill_all();
        let tasks = self.tasks.lock().take();
        if let Some(mut t) = tasks {
            t.abort_all();
            while t.join_next().await.is_some() {}
        }
        // The admin port stays up through the drain (so `/readyz` reports "shutting down").
        let admin = self.admin.lock().take();
        if let Some(a) = admin {
            a.stop().await;
        }
    }
}

/// Accept RESP clients; with `tls`, each connection's handshake runs in its own task. Every
/// wake-up drains all connections the kernel has ready (up to `ACCEPT_BURST`), so a burst of
/// connects does not wait one runtime turn per connection while the listen backlog overflows.
async fn accept_loop(shared: Arc<Shared>, listener: TcpListener, tls: Option<Arc<ServerTls>>) {
    use futures_util::FutureExt;
    let mut shutdown = shared.shutdown.subscribe();
    // Turning a client away over TLS costs a handshake; past this many at once, extra clients
    // over maxclients are just closed, so a flood cannot grow memory.
    let tls_rejections = Arc::new(tokio::sync::Semaphore::new(MAX_PENDING_TLS_REJECTIONS));
    loop {
        tokio::select! {
            _ = shutdown.changed() => {
                tracing::info!("RESP listener closed for shutdown");
                return;
            }
            r = listener.accept() => {
                let mut next = Some(r);
                let mut burst = 0;
                while let Some(r) = next.take() {
                    match r {
                        Ok((stream, addr)) => admit(&shared, &tls, &tls_rejections, stream, addr),
                        Err(e) => {
                            // EMFILE and friends: back off instead of spinning.
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            break;
                        }
                    }
                    burst += 1;
                    if burst < ACCEPT_BURST {
                        // Ready now or not at all: never waits.
                        next = listener.accept().now_or_never();
                    }
                }
            }
        }
    }
}

/// Most connections accepted in one wake-up before the loop yields (and checks for shutdown).
const ACCEPT_BURST: usize = 256;

/// Register and serve (or turn away, past maxclients) one accepted RESP client.
fn admit(
    shared: &Arc<Shared>,
    tls: &Option<Arc<ServerTls>>,
    tls_rejections: &Arc<tokio::sync::Semaphore>,
    stream: tokio::net::TcpStream,
    addr: SocketAddr,
) {
    let _ = stream.set_nodelay(true);
    ServerStats::add(&shared.stats.total_connections, 1);
    let max = shared.config.read().limits.max_clients;
    if shared.clients.len() >= max {
        ServerStats::add(&shared.stats.rejected_connections, 1);
        match tls {
            None => {
                tokio::spawn(reject_client(stream));
            }
            // Over TLS the error must be encrypted to be readable at all.
            Some(tls) => {
                if let Ok(permit) = tls_rejections.clone().try_acquire_owned() {
                    let tls = tls.clone();
                    tokio::spawn(async move {
                        if let Some(conn) = tls.handshake(stream, Alpn::None, "resp").await {
                            reject_client(conn).await;
                        }
                        drop(permit);
                    });
                }
            }
        }
        return;
    }
    let laddr = stream.local_addr().unwrap_or(addr);
    let now = shared.store.now_ms();
    let info = Arc::new(ClientInfo {
        id: shared.clients.next_id(),
        addr,
        laddr,
        created_ms: now,
        name: Mutex::new(None),
        last_active_ms: now.into(),
        last_cmd: Mutex::new("NULL"),
        resp: 2.into(),
        subscriptions: 0.into(),
        psubscriptions: 0.into(),
        in_multi: false.into(),
        cache: Mutex::new(Arc::from(ferrite_storage::DEFAULT_CACHE)),
        db: 0.into(),
        killed: false.into(),
        gone: false.into(),
        kill_notify: Default::default(),
        read_buf_bytes: 0.into(),
        reply_buf_bytes: 0.into(),
        blocked: Default::default(),
        user: Default::default(),
        invalidations: Default::default(),
        tracking_mode: 0.into(),
        caching: 0.into(),
    });
    shared.clients.register(info.clone());
    let sh = shared.clone();
    let tls = tls.clone();
    tokio::spawn(async move {
        let id = info.id;
        match tls {
            None => serve_connection(sh.clone(), stream, info).await,
            Some(tls) => {
                // The client is registered (it counts against maxclients, which
                // bounds pending handshakes); CLIENT KILL or shutdown during the
                // handshake drops it.
                let conn = tokio::select! {
                    c = tls.handshake(stream, Alpn::None, "resp") => c,
                    _ = info.kill_notify.notified() => None,
                };
                if let Some(conn) = conn {
                    serve_connection(sh.clone(), conn, info).await;
                }
            }
        }
        sh.clients.unregister(id);
    });
}

/// Most TLS handshakes at once whose only purpose is to send the maxclients error.
const MAX_PENDING_TLS_REJECTIONS: usize = 64;

/// Tell a client over `maxclients` why it is being turned away, then close (bounded: a TLS
/// close waits on the peer reading).
async fn reject_client<S: tokio::io::AsyncWrite + Unpin>(mut stream: S) {
    use tokio::io::AsyncWriteExt;
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        stream
            .write_all(b"-ERR max number of clients reached\r\n")
            .await?;
        stream.shutdown().await
    })
    .await;
}

async fn active_expiry(shared: Arc<Shared>) {
    loop {
        let every = shared.config.read().expiry.active_expire_interval_ms.max(1);
        tokio::time::sleep(Duration::from_millis(every)).await;
        // DEBUG SET-ACTIVE-EXPIRE 0 (and CLIENT PAUSE, as Redis: keys must not vanish while
        // writes are held) stops the sweep; keys still expire when read.
        let intro = &shared.introspection;
        if !intro.settings.active_expire.load(Ordering::Relaxed)
            || intro.settings.cron_paused.load(Ordering::Relaxed)
            || intro.pause.current().is_some()
        {
            continue;
        }
        let store = shared.store.clone();
        // Bounded work, but it takes locks: keep it off the async workers' hot loop.
        let _ = tokio::task::spawn_blocking(move || store.active_expire_tick()).await;
        let _ = shared.stats.total_commands.load(Ordering::Relaxed);
    }
}

/// How often the background evictor looks at the budget.
const BACKGROUND_EVICTION_EVERY: Duration = Duration::from_millis(100);

/// Eviction otherwise runs only before writes: after one huge write (or a CONFIG SET maxmemory
/// lower), memory would stay over the limit while only reads arrive. Every 100 ms, when used
/// memory is over the limit, trim replay windows and evict keys (allkeys-lru) back under it, on
/// the blocking pool (it takes shard locks one at a time).
async fn background_eviction(shared: Arc<Shared>) {
    loop {
        tokio::time::sleep(BACKGROUND_EVICTION_EVERY).await;
        let b = shared.store.budget();
        if b.used() <= b.limit()
            || shared
                .introspection
                .settings
                .cron_paused
                .load(Ordering::Relaxed)
        {
            continue;
        }
        let store = shared.store.clone();
        let _ = tokio::task::spawn_blocking(move || store.ensure_memory(0)).await;
    }
}

/// Free topics nobody uses any more (no subscribers, idle).
async fn sweep_topics(shared: Arc<Shared>) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        shared.topics.sweep_idle();
    }
}

/// Drop metering figures and quota limiters of deleted caches (bounded label and limiter sets).
/// Figures of expired or revoked tokens are kept: their usage is still owed for billing, and the
/// tracked set is bounded by `metering.max_tracked_keys` anyway.
async fn retire_tenants(shared: Arc<Shared>) {
    let every = Duration::from_secs(shared.config.read().metering.retire_interval_secs);
    loop {
        tokio::time::sleep(every).await;
        let store = &shared.store;
        shared.metering.retire(|k| store.cache(&k.cache).is_some());
        shared
            .quotas
            .retire(|name| store.cache(name).is_some(), |_| true);
    }
}

/// Revocations appended to the revocation file by another process (`ferrite token revoke`)
/// take effect within a second; `FERRITE.REVOKE` takes effect at once.
async fn reload_revocations(shared: Arc<Shared>) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        shared.auth.reload_revocations();
    }
}
