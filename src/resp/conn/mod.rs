//! One RESP connection: read, parse every complete command, execute, write, repeat.
//!
//! The loop `select!`s over reading, writing, wake-ups and shutdown, so writing never waits
//! for reading (a pipelining client that doesn't read can't deadlock us) and the output buffer
//! is bounded: we stop parsing new commands while `OUT_SOFT_LIMIT` bytes are unsent, and a
//! client whose unsent replies pass the configured hard limit is disconnected.
//!
//! One job per file; all of them add methods to the one `Session` a
//! connection task owns:
//!
//! | File | What it holds |
//! |---|---|
//! | `mod.rs` | the connection task: `serve_connection` (its read/write `select!` loop, kill, shutdown, idle/stall timeouts, the close), `SplitIo` (TCP or TLS) |
//! | `io.rs` | the reply buffer and gathered writes (`Spliced`, `io_slices`, `consume`, `bulk_payload`), buffer shrinking, charging input (`charge_input`) and buffers (`charge_buffers`) to their budgets |
//! | `session.rs` | the `Session` struct (every per-connection field), its construction, `set_cache`, cleanup and `Drop` (memory given back) |
//! | `exec.rs` | running commands: `process_input` (one batch), `execute_metered` (quota, metering), `execute_spec`/`run`/`run_handler`, blocking commands (`Blocked`, retry, timeout), MULTI queueing and `exec`, WATCH release |
//! | `auth.rs` | AUTH / HELLO AUTH identity (the service's `Caller`, from `Service::caller`), per-batch re-validation, NOAUTH/NOPERM (`authorize`), the tenant (`set_tenant`), subscriptions re-checked after AUTH, FERRITE.REVOKE |
//! | `connection_commands.rs` | commands that change the connection itself (`connection_command`: MULTI, WATCH, QUIT, RESET, AUTH, SELECT, …) and HELLO |
//! | `observe.rs` | after each command: INFO commandstats/errorstats/latencystats, SLOWLOG, LATENCY, MONITOR's feed and delivery, CLIENT REPLY; the CLIENT PAUSE hold |
//! | `pubsub.rs` | subscription state (`PubSub`), SUBSCRIBE and friends, delivering messages (`deliver_events`) |

mod auth;
mod connection_commands;
mod exec;
mod io;
mod migrate;
mod observe;
mod pubsub;
mod scripting;
mod session;

use std::io::IoSlice;
use std::sync::Arc;
use std::time::Duration;

use ferrite_resp::ParseLimits;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::resp::buffers::{fit_read_buf, read_buf_needs_fit, STREAM_READ_MIN};
use crate::resp::client::ClientInfo;
use crate::shared::{ServerStats, Shared};

pub use exec::BlockRequest;
use io::{io_slices, MAX_IOSLICES};
pub(crate) use observe::unix_micros;
use session::Session;

/// Stop executing further pipelined commands while this many reply bytes are unsent: replies
/// then leave in large writes, and a client that stops reading stops being served instead of
/// growing our memory.
const OUT_SOFT_LIMIT: usize = 64 * 1024;
/// How long more than `limits.reply_buffer_limit` bytes may sit unread before the client is
/// disconnected.
const REPLY_STALL: Duration = Duration::from_secs(10);
/// Longest wait for the last bytes and the close (TLS close_notify) to leave at disconnect.
const CLOSE_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection stream the loop can read and write at the same time. The loop is generic over
/// it (monomorphised per stream type, no `dyn`), so plaintext TCP keeps tokio's lock-free owned
/// halves and pays nothing for TLS existing; a TLS stream is one rustls state machine and is
/// split with `tokio::io::split` (a lock only that stream's two halves touch).
pub trait SplitIo: Send + 'static {
    type Read: AsyncRead + Unpin + Send;
    type Write: AsyncWrite + Unpin + Send;
    /// Whether a write may return before its bytes reached the socket (TLS: rustls accepts the
    /// plaintext and keeps records it could not send yet), so the loop must flush once its
    /// output buffer is empty. A constant, so the flush branch compiles away for plain TCP.
    const BUFFERS_WRITES: bool;
    fn split_io(self) -> (Self::Read, Self::Write);
}

impl SplitIo for TcpStream {
    const BUFFERS_WRITES: bool = false;
    type Read = tokio::net::tcp::OwnedReadHalf;
    type Write = tokio::net::tcp::OwnedWriteHalf;
    fn split_io(self) -> (Self::Read, Self::Write) {
        self.into_split()
    }
}

impl SplitIo for crate::tls::TlsConn {
    const BUFFERS_WRITES: bool = true;
    type Read = tokio::io::ReadHalf<crate::tls::TlsConn>;
    type Write = tokio::io::WriteHalf<crate::tls::TlsConn>;
    fn split_io(self) -> (Self::Read, Self::Write) {
        tokio::io::split(self)
    }
}

/// Serve one RESP client until it leaves, is killed, or the server shuts down. The caller sets
/// TCP_NODELAY on the socket (before a TLS handshake, if any).
pub async fn serve_connection<S: SplitIo>(shared: Arc<Shared>, stream: S, info: Arc<ClientInfo>) {
    let (limits, query_limit, reply_limit, idle) = {
        let c = shared.config.read();
        (
            ParseLimits {
                max_bulk_len: c.limits.max_bulk_len as usize,
                max_multibulk_len: c.limits.max_multibulk_len as usize,
                ..ParseLimits::default()
            },
            c.limits.query_buffer_limit as usize,
            c.limits.reply_buffer_limit as usize,
            c.limits.idle_timeout_secs,
        )
    };
    let mut s = Session::new(&shared, &info, limits, query_limit, reply_limit);
    let mut shutdown = shared.shutdown.subscribe();
    let (mut reader, mut writer) = stream.split_io();
    let idle_timeout = (idle > 0).then(|| Duration::from_secs(idle));
    // Clock reads and wait-list registrations are kept off the per-request path (perf of
    // unpipelined GET: ~5% of server CPU was clock reads, ~2% registering and unregistering the
    // kill/shutdown waiters on every loop turn). So: the kill and shutdown futures are created
    // once and stay registered; `last_input` is read only when an idle timeout is configured;
    // the stall clock starts only once unread replies exceed the limit.
    let mut last_input = Instant::now();
    let mut stalled_since: Option<Instant> = None;
    let killed = info.kill_notify.notified();
    tokio::pin!(killed);
    // Client-side caching invalidations for this connection (armed once, like `killed`).
    let invalidated = info.invalidations.notify.notified();
    tokio::pin!(invalidated);
    let mut kill_seen = false;
    let shutdown_changed = shutdown.changed();
    tokio::pin!(shutdown_changed);
    let mut draining = false;
    // Bytes written into the stream but maybe not yet onto the socket (see BUFFERS_WRITES).
    let mut unflushed = false;

    loop {
        if s.has_pending() || !s.inbuf.is_empty() {
            s.shrink_at = None;
        }
        if s.blocked.is_none()
            && !s.closing
            && s.obs.paused.is_none()
            && s.script.is_none()
            && s.migrating.is_none()
        {
            s.process_input();
        }
        // Room for the next read is decided here, after parsing, from what the unparsed tail
        // still needs (see `resp/buffers.rs`: deciding it right after a read, before the
        // commands it brought were consumed, doubled the buffer on every full read).
        if read_buf_needs_fit(&s.inbuf, s.in_alloc) {
            fit_read_buf(&mut s.inbuf, &mut s.in_alloc, s.query_limit, s.read_filled);
        }
        s.read_filled = false;
        // Every arm below that appends replies or moves a buffer loops back here. A compare or
        // two unless an allocation changed.
        s.charge_buffers();
        // Every arm below that produces output loops back here: usage is folded before the
        // replies it describes are written, so a client never sees a reply its figures lack.
        s.fold_meter();
        // One large reply may exceed the limit while the client reads it; a client that keeps
        // more than the limit unread for REPLY_STALL is gone or stuck, and is disconnected.
        let pending = s.pending();
        if pending <= s.reply_limit {
            stalled_since = None;
        }
        let stall_deadline = (pending > s.reply_limit)
            .then(|| *stalled_since.get_or_insert_with(Instant::now) + REPLY_STALL);
        if s.closing && !s.has_pending() && !unflushed {
            break;
        }
        // Past the listener-wide input budget, a connection holding a large partial command
        // waits (TCP back-pressure) until some charged input is executed or dropped.
        let input_blocked = s.charged > 0 && shared.resp_input.must_wait(info.id, s.charged);
        let want_read = !s.closing && pending < OUT_SOFT_LIMIT && !input_blocked;
        let block_deadline = s.blocked.as_ref().and_then(|b| b.deadline);
        let block_notify = s.blocked.as_ref().map(|b| b.notify.clone());
        let idle_deadline = idle_timeout.map(|d| last_input + d);
        let waiter = s.pubsub.as_ref().map(|p| p.waiter.clone());
        let monitor = s.obs.monitor.clone();
        let pause_until = s.obs.paused.as_ref().map(|(_, until)| *until);
        let mut pause_rx = s.obs.paused.as_ref().map(|(rx, _)| rx.clone());

        tokio::select! {
            biased;
            _ = &mut killed, if !kill_seen => {
                if s.closing && s.has_pending() {
                    // Killed by its own CLIENT KILL: send that reply, then close (as Redis does).
                    // The future has fired; it must not be polled again.
                    kill_seen = true;
                    continue;
                }
                break;
            }
            _ = &mut shutdown_changed, if !draining => {
                draining = true;
                // Graceful: finish replies already produced, accept no more commands.
                s.closing = true;
                s.blocked = None;
                *info.blocked.lock() = None;
                s.obs.paused = None;
                s.obs.pause_held = None;
            }
            // Write pending replies; once they are all written, flush what a buffering stream
            // (TLS) still holds. One arm for both: they borrow the same writer.
            r = async {
                // Fields, not `s`: the read arm borrows `s.inbuf` meanwhile.
                if s.out.is_empty() && s.spliced.queue.is_empty() {
                    writer.flush().await.map(|()| None)
                } else if s.spliced.queue.is_empty() {
                    writer.write(&s.out).await.map(Some)
                } else {
                    let mut slices = [IoSlice::new(&[]); MAX_IOSLICES];
                    let n = io_slices(&s.out, &s.spliced, &mut slices);
                    writer.write_vectored(&slices[..n]).await.map(Some)
                }
            }, if s.has_pending() || (S::BUFFERS_WRITES && unflushed) => match r {
                Ok(Some(0)) | Err(_) => break,
                Ok(Some(n)) => {
                    // Progress: the stall clock restarts if replies are still over the limit.
                    stalled_since = None;
                    ServerStats::add(&shared.stats.net_output_bytes, n as u64);
                    s.consume(n);
                    unflushed = S::BUFFERS_WRITES;
                    s.arm_shrink();
                }
                Ok(None) => unflushed = false,
            },
            r = reader.read_buf(&mut s.inbuf), if want_read => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    ServerStats::add(&shared.stats.net_input_bytes, n as u64);
                    s.read_filled = n >= STREAM_READ_MIN && s.inbuf.len() == s.inbuf.capacity();
                    if idle_timeout.is_some() {
                        last_input = Instant::now();
                    }
                    if s.inbuf.len() > s.query_limit {
                        tracing::warn!(client = info.id, "closing client: query buffer limit reached");
                        break;
                    }
                    s.charge_input();
                }
            },
            _ = shared.resp_input.released(), if input_blocked => {}
            _ = &mut invalidated, if !s.closing => {
                invalidated.set(info.invalidations.notify.notified());
                s.deliver_invalidations();
            }
            // The script this connection runs ended (on its blocking thread).
            r = async { (&mut s.script.as_mut().expect("guarded").handle).await }, if s.script.is_some() => {
                s.finish_script(r);
            }
            // The MIGRATE this connection runs finished its transfer.
            r = async { (&mut s.migrating.as_mut().expect("guarded").handle).await }, if s.migrating.is_some() => {
                s.finish_migrate(r);
            }
            // (Not while held: a blocked command waiting for a script to end, `retry_blocked`.)
            _ = async { block_notify.as_ref().expect("guarded").notified().await }, if block_notify.is_some() && pause_until.is_none() => {
                s.retry_blocked();
            }
            _ = async { waiter.as_ref().expect("guarded").wait().await }, if waiter.is_some() && !s.closing => {
                // A subscriber may send no commands for hours: read the clock for the expiry check.
                s.now = shared.store.now_ms();
                if !s.still_authenticated() {
                    // A revoked or expired token stops receiving at once.
                    tracing::info!(client = info.id, "closing subscriber: its token expired or was revoked");
                    break;
                }
                let delivered = s.deliver_events();
                s.publish_client_info();
                if !delivered {
                    ServerStats::add(&shared.stats.output_limit_disconnects, 1);
                    shared.topics.record_slow_subscriber_disconnect();
                    tracing::warn!(client = info.id, pending = s.pending(), "closing subscriber: pub/sub output budget exceeded");
                    break;
                }
            }
            _ = async { monitor.as_ref().expect("guarded").ready.notified().await }, if monitor.is_some() && !s.closing => {
                if !s.deliver_monitor_lines() {
                    ServerStats::add(&shared.stats.output_limit_disconnects, 1);
                    tracing::warn!(client = info.id, "closing monitor: its queue overflowed");
                    break;
                }
            }
            // CLIENT PAUSE holds this connection: wait for UNPAUSE (or a new PAUSE) or the
            // deadline; the loop's top then runs the held command, or holds it again.
            _ = async { let _ = pause_rx.as_mut().expect("guarded").changed().await; }, if pause_until.is_some() => {
                s.obs.paused = None;
                s.obs.pause_held = None;
            }
            _ = sleep_opt(pause_until), if pause_until.is_some() => {
                s.obs.paused = None;
                s.obs.pause_held = None;
            }
            _ = sleep_opt(block_deadline), if block_deadline.is_some() => {
                s.unblock_timeout();
            }
            _ = sleep_opt(stall_deadline), if stall_deadline.is_some() => {
                ServerStats::add(&shared.stats.output_limit_disconnects, 1);
                tracing::warn!(client = info.id, pending = s.pending(), "closing client: reply buffer limit exceeded and not read");
                break;
            }
            _ = sleep_opt(s.shrink_at), if s.shrink_at.is_some() => {
                // Both buffers stayed empty (any traffic since cancelled this); the loop's top
                // publishes the new size.
                s.shrink_buffers();
            }
            _ = sleep_opt(idle_deadline),
                if idle_deadline.is_some() && s.blocked.is_none() && s.pubsub.is_none() => {
                tracing::debug!(client = info.id, "closing idle client");
                break;
            }
        }
    }
    s.cleanup();
    s.fold_meter();
    shared.resp_input.set(info.id, &mut s.charged, 0);
    // Bounded: over TLS, shutdown sends close_notify and flushes, which waits on a peer that
    // may never read again.
    let _ = tokio::time::timeout(CLOSE_FLUSH_TIMEOUT, writer.shutdown()).await;
}

/// Sleep until `deadline`, or forever when there is none. The timer arms of the connection loop
/// use it so that a disabled arm costs nothing: `select!` evaluates every arm's expression each
/// turn, and `sleep_until(deadline.unwrap_or_else(Instant::now))` read the clock (and built a
/// timer) per disabled arm per turn. An async fn does nothing until polled.
async fn sleep_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
