//! The command-line client: `ferrite cache|get|set|delete|topic|bench`, talking to a running
//! server over its Momento-compatible gRPC API with the tonic clients generated in
//! `momento-protos`, sending the headers the Momento SDKs send. See docs/cli.md.
//!
//! ```text
//! connection.rs  endpoint, token (v1 tokens send their api_key), channel, request headers
//! cache.rs       cache create|delete|list|flush    (control_client.ScsControl)
//! item.rs        get|set|delete KEY                 (cache_client.Scs)
//! topic.rs       topic publish|subscribe            (cache_client.pubsub.Pubsub)
//! bench.rs       bench: get/set load, progress bar, latency percentiles
//! output.rs      human text or JSON lines; error.rs: failures and exit codes
//! ```

pub mod bench;
pub mod cache;
pub mod connection;
pub mod error;
pub mod item;
pub mod output;
pub mod topic;

use clap::Subcommand;

pub use connection::ConnectArgs;
pub use error::{exit, CliError};

/// The client subcommands, flattened into the `ferrite` binary's command list.
#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Create, delete, list or flush caches on a running server.
    Cache(cache::CacheArgs),
    /// Print the value of a key (exit code 1 when it is missing).
    Get(item::GetArgs),
    /// Store a value under a key.
    Set(item::SetArgs),
    /// Delete a key.
    Delete(item::DeleteArgs),
    /// Publish to or subscribe to a topic.
    Topic(topic::TopicArgs),
    /// Quick get/set load test with a latency summary.
    Bench(bench::BenchArgs),
}

impl ClientCommand {
    fn json(&self) -> bool {
        match self {
            Self::Cache(a) => a.conn.json,
            Self::Get(a) => a.conn.json,
            Self::Set(a) => a.conn.json,
            Self::Delete(a) => a.conn.json,
            Self::Topic(a) => a.conn.json,
            Self::Bench(a) => a.conn.json,
        }
    }
}

/// Run one client command to completion and return the process exit code (see [`exit`]).
pub fn run(cmd: ClientCommand) -> i32 {
    let json = cmd.json();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ferrite-cli")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            output::report_error(json, &CliError::Io(e));
            return exit::SERVER;
        }
    };
    let result = runtime.block_on(async move {
        match cmd {
            ClientCommand::Cache(a) => cache::run(a).await,
            ClientCommand::Get(a) => item::get(a).await,
            ClientCommand::Set(a) => item::set(a).await,
            ClientCommand::Delete(a) => item::delete(a).await,
            ClientCommand::Topic(a) => topic::run(a).await,
            ClientCommand::Bench(a) => bench::run(a).await,
        }
    });
    // Don't wait for blocking-pool threads (stdin readers, DNS) that have nothing left to do.
    runtime.shutdown_background();
    match result {
        Ok(()) => exit::OK,
        Err(e) if e.is_broken_pipe() => exit::OK,
        Err(e) => {
            output::report_error(json, &e);
            e.exit_code()
        }
    }
}
