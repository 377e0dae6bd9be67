//! The `ferrite` binary: `ferrite` (or `ferrite serve`) runs the server; the client commands
//! (`ferrite cache|get|set|delete|topic|bench`, see docs/cli.md) talk to a running one.

use clap::{Parser, Subcommand};
use ferrite::server::Running;
use ferrite_config::{Config, ServeArgs};

#[derive(Parser)]
#[command(
    name = "ferrite",
    version,
    about = "Ferrite: in-memory cache and pub/sub topics server"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default when no subcommand is given).
    Serve(ServeArgs),
    /// Client commands against a running server's gRPC API (src/cli).
    #[command(flatten)]
    Client(ferrite::cli::ClientCommand),
    /// Mint or revoke auth tokens with the server's key file (docs/auth.md).
    #[command(subcommand)]
    Token(ferrite::token_cli::TokenCommand),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let args = match cli.command {
        Some(Command::Serve(a)) => a,
        Some(Command::Client(c)) => std::process::exit(ferrite::cli::run(c)),
        Some(Command::Token(t)) => {
            println!("{}", ferrite::token_cli::run(t)?);
            return Ok(());
        }
        None => ServeArgs::default(),
    };
    let config = Config::load(&args)?;
    if args.print_config {
        print!("{}", config.to_toml());
        return Ok(());
    }
    let filter = args
        .log_level
        .clone()
        .or_else(|| std::env::var("FERRITE_LOG").ok())
        .unwrap_or_else(|| "info".to_string());
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|_| "info".into()),
        )
        .init();
    raise_fd_limit();
    let runtime = build_runtime(config.server.effective_worker_threads())?;
    runtime.block_on(async move {
        tracing::info!(
            workers = config.server.effective_worker_threads(),
            maxmemory = config.memory.maxmemory,
            bind = %config.server.bind,
            "starting ferrite {}",
            env!("CARGO_PKG_VERSION")
        );
        let running = Running::start(config).await?;
        let shared = running.shared.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("signal received, shutting down");
            shared.request_shutdown();
        });
        running.wait().await;
        tracing::info!("bye");
        anyhow::Ok(())
    })?;
    Ok(())
}

/// The data path's runtime. With one worker thread, tokio's current-thread scheduler: measured
/// on the gRPC path pinned to one core, it served 1.66x the closed-loop Gets of a one-worker
/// multi-thread runtime at the same CPU (no work-stealing queues, no cross-thread wake-ups;
/// docs/benchmarks.md). With more, the work-stealing multi-thread scheduler, one worker per thread.
fn build_runtime(workers: usize) -> std::io::Result<tokio::runtime::Runtime> {
    if workers <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("ferrite-worker")
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .thread_name("ferrite-worker")
            .build()
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Many clients means many sockets: lift the soft descriptor limit to the hard one.
fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain libc calls with a valid pointer to a local struct.
    #[allow(unsafe_code)]
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}
