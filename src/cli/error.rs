//! CLI failures and their exit codes (documented in docs/cli.md; scripts rely on them).

use tonic::Code;

/// Exit codes. 2 is also what clap uses for a command line it cannot parse.
pub mod exit {
    pub const OK: i32 = 0;
    /// `get` of a key that is not in the cache.
    pub const MISS: i32 = 1;
    /// Bad arguments (also clap's own code).
    pub const USAGE: i32 = 2;
    /// The cache (or other named thing) does not exist.
    pub const NOT_FOUND: i32 = 3;
    /// `cache create` of a cache that exists.
    pub const ALREADY_EXISTS: i32 = 4;
    /// The server refused the request for another reason (invalid argument, limit, wrong type...).
    pub const SERVER: i32 = 5;
    /// The server could not be reached, went away, or did not answer in time.
    pub const CONNECTION: i32 = 6;
    /// The token was rejected.
    pub const AUTH: i32 = 7;
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A key that is not there. Not a failure of the tool, but scripts need to tell it apart.
    #[error("{0}")]
    Miss(String),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Connect(String),
    /// The server answered a call with an error status.
    #[error("{context}: {}", describe(.status))]
    Status {
        context: String,
        status: tonic::Status,
    },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Something the client itself got wrong or did not expect (a panicked task, a response
    /// the protocol does not allow).
    #[error("{0}")]
    Internal(String),
}

impl CliError {
    pub fn status(context: impl Into<String>, status: tonic::Status) -> Self {
        Self::Status {
            context: context.into(),
            status,
        }
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Miss(_) => exit::MISS,
            Self::Usage(_) => exit::USAGE,
            Self::Connect(_) => exit::CONNECTION,
            Self::Io(_) | Self::Internal(_) => exit::SERVER,
            Self::Status { status, .. } => match status.code() {
                Code::NotFound => exit::NOT_FOUND,
                Code::AlreadyExists => exit::ALREADY_EXISTS,
                Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => exit::CONNECTION,
                Code::Unauthenticated | Code::PermissionDenied => exit::AUTH,
                _ => exit::SERVER,
            },
        }
    }

    /// A short stable name for the JSON error object.
    pub fn kind(&self) -> &'static str {
        match self.exit_code() {
            exit::MISS => "miss",
            exit::USAGE => "usage",
            exit::NOT_FOUND => "not_found",
            exit::ALREADY_EXISTS => "already_exists",
            exit::CONNECTION => "connection",
            exit::AUTH => "auth",
            _ => "server",
        }
    }

    /// Output closed under us (`ferrite topic subscribe ... | head -3`): a normal way to stop.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Self::Io(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

/// The server's message plus its gRPC code and the Momento `err` detail when present.
fn describe(status: &tonic::Status) -> String {
    let mut out = if status.message().is_empty() {
        format!("{:?}", status.code())
    } else {
        format!("{} ({:?})", status.message(), status.code())
    };
    if let Some(err) = status.metadata().get("err").and_then(|v| v.to_str().ok()) {
        out.push_str(&format!(" [err={err}]"));
    }
    if status.code() == Code::Unavailable || status.code() == Code::Unknown {
        // Transport failures after the connection was made arrive as statuses; their cause is
        // in the source chain.
        if let Some(src) = std::error::Error::source(status) {
            out.push_str(&format!(": {}", super::connection::chain(src)));
        }
    }
    out
}
