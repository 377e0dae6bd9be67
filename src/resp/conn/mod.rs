//! One RESP connection: read, parse every complete command, execute, write, repeat.
//!
//! The loop `select!`s over reading, writing, wake-ups and shutdown, so writing never waits
//! for reading (a pipelining client that doesn't read can't deadlock us) and the output buffer
//! is bounded: we stop parsing new commands while `OUT_SOFT_LIMIT` bytes are unsent, and a
//! client whose unsent replies pass the configured hard limit is disconnected.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use ferrite_auth::{AuthError, Principal};
use ferrite_resp::{parse_command, ParseLimits, ReplyWriter};
use ferrite_storage::{Cache, Locked, WatchTicket, DEFAULT_CACHE};
use ferrite_topics::{Event, Message, Resume, Subscriber, Waiter};
use std::collections::{HashSet, VecDeque};
use std::io::IoSlice;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::metrics::{self, Family, Protocol};
use crate::resp::args::{eq_ic, ERR_OOM};
use crate::resp::buffers::{
    fit_read_buf, read_buf_needs_fit, BUF_INITIAL, BUF_SHRINK_ABOVE, STREAM_READ_MIN,
};
use crate::resp::client::ClientInfo;
use crate::resp::dispatch::{flags, lookup, CommandSpec, Ctx};
use crate::resp::inflight::INPUT_CHARGE_ABOVE;
use crate::shared::{ServerStats, Shared};
use ferrite_service::{Counters, MeterKey, QuotaHandle};

/// Stop executing further pipelined commands while this many reply bytes are unsent: replies
/// then leave in large writes, and a client that stops reading stops being served instead of
/// growing our memory.
const OUT_SOFT_LIMIT: usize = 64 * 1024;
/// Pub/sub payloads this large are not copied into the reply buffer: the reply queue holds the
/// message itself and the socket write gathers it (`write_vectored`). With 1 KiB messages to 10
/// subscribers, copying each payload into every subscriber's buffer was ~19% of the server's CPU
/// (perf), on top of the kernel's own copy into the socket.
const SPLICE_MIN: usize = 512;
/// Most slices one vectored write gathers.
const MAX_IOSLICES: usize = 64;

/// Large payloads queued by reference between the bytes of the reply buffer.
#[derive(Default)]
struct Spliced {
    queue: VecDeque<Splice>,
    /// Payload bytes still to write, over the whole queue.
    bytes: usize,
    /// Bytes ever consumed from the front of the reply buffer: positions in `Splice::at` are
    /// absolute in that stream, so consuming never rewrites the queue.
    out_consumed: u64,
}

struct Splice {
    /// The payload goes right before this absolute position of the reply-buffer stream.
    at: u64,
    msg: Arc<Message>,
    /// Payload bytes of it already written.
    off: usize,
}

/// The pending reply as slices in order: buffer bytes up to a queued payload, the payload,
/// and so on. Stops early (at a payload) when `slices` is full; the rest goes next write.
fn io_slices<'a>(
    out: &'a BytesMut,
    spliced: &'a Spliced,
    slices: &mut [IoSlice<'a>; MAX_IOSLICES],
) -> usize {
    let (mut n, mut pos) = (0, 0);
    for sp in &spliced.queue {
        if n + 2 > MAX_IOSLICES {
            return n;
        }
        let at = (sp.at - spliced.out_consumed) as usize;
        if at > pos {
            slices[n] = IoSlice::new(&out[pos..at]);
            n += 1;
        }
        slices[n] = IoSlice::new(&sp.msg.payload[sp.off..]);
        n += 1;
        pos = at;
    }
    if pos < out.len() && n < MAX_IOSLICES {
        slices[n] = IoSlice::new(&out[pos..]);
        n += 1;
    }
    n
}

/// `written` bytes of the pending reply reached the socket.
fn consume(out: &mut BytesMut, spliced: &mut Spliced, mut written: usize) {
    while written > 0 {
        let before_next = spliced
            .queue
            .front()
            .map_or(out.len(), |sp| (sp.at - spliced.out_consumed) as usize);
        let t = written.min(before_next);
        if t > 0 {
            out.advance(t);
            spliced.out_consumed += t as u64;
            written -= t;
            continue;
        }
        let sp = spliced
            .queue
            .front_mut()
            .expect("written no more than was pending");
        let t = written.min(sp.msg.payload.len() - sp.off);
        sp.off += t;
        spliced.bytes -= t;
        written -= t;
        if sp.off == sp.msg.payload.len() {
            spliced.queue.pop_front();
        }
    }
}

/// A bulk string of a pub/sub payload: copied when small, queued by reference when large.
fn bulk_payload(w: &mut ReplyWriter<'_>, msg: &Arc<Message>, spliced: &mut Spliced) {
    let len = msg.payload.len();
    if len < SPLICE_MIN {
        w.bulk(&msg.payload);
        return;
    }
    w.bulk_header(len);
    spliced.queue.push_back(Splice {
        at: spliced.out_consumed + w.written() as u64,
        msg: msg.clone(),
        off: 0,
    });
    spliced.bytes += len;
    w.raw(b"\r\n");
}

/// A subscriber's reply buffer that grew past `BUF_SHRINK_ABOVE` is given back after it has
/// stayed empty this long. Not at once: a subscriber of a fast topic empties and refills a
/// large buffer thousands of times a second, and giving it back each time would regrow it by
/// doubling (one small message after another: realloc copies, fresh pages). Other connections
/// give a large reply buffer back as soon as it is written out (`reply_drained`): a large reply
/// is appended in one piece, so growing for the next one costs one allocation, and holding it
/// would keep memory charged to `maxmemory` for nothing. (The read buffer is fitted after every
/// batch: `resp/buffers.rs`.)
const BUF_SHRINK_AFTER: Duration = Duration::from_millis(500);
/// How long more than `limits.reply_buffer_limit` bytes may sit unread before the client is
/// disconnected.
const REPLY_STALL: Duration = Duration::from_secs(10);
/// Longest wait for the last bytes and the close (TLS close_notify) to leave at disconnect.
const CLOSE_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// A command waiting for data (BLPOP & co.).
struct Blocked {
    args: Vec<Bytes>,
    spec: &'static CommandSpec,
    /// The cache whose feed the registration holds (released on unregistering).
    cache: Arc<Cache>,
    keys: Vec<Bytes>,
    deadline: Option<Instant>,
    notify: Arc<Notify>,
}

/// What a blocking handler asks for when it found nothing to pop.
pub struct BlockRequest {
    pub keys: Vec<Bytes>,
    /// None = block forever.
    pub timeout: Option<Duration>,
}

struct Session {
    shared: Arc<Shared>,
    info: Arc<ClientInfo>,
    cache: Arc<Cache>,
    resp3: bool,
    inbuf: BytesMut,
    out: BytesMut,
    /// The parsed arguments of the command being run; reused (see `process_input`).
    args: Vec<Bytes>,
    /// Large pub/sub payloads waiting to be written between the bytes of `out`.
    spliced: Spliced,
    /// Name of the last command run, for CLIENT LIST (see `publish_client_info`).
    last_cmd: &'static str,
    /// Size of `inbuf`'s allocation: exact, every allocation of it is made by `fit_read_buf`.
    in_alloc: usize,
    /// The last read filled all the room `inbuf` had (the client streams): `fit_read_buf`
    /// grows it, up to `STREAM_READ_MAX`.
    read_filled: bool,
    /// Size of `out`'s allocation, and the address of its end, which names the allocation:
    /// `BytesMut` grows it behind our back (ReplyWriter appends) and says only how much room
    /// is left after the read position (`capacity()`), so the size is followed from outside
    /// (`sync_out`). Exact whenever the buffer was last emptied.
    out_alloc: usize,
    out_end: usize,
    /// Bytes of the allocation before the read position (already written out), as of the last
    /// `sync_out`.
    out_off: usize,
    /// When to give a subscriber's large empty reply buffer back.
    shrink_at: Option<Instant>,
    limits: ParseLimits,
    /// `limits` with Redis's pre-AUTH caps, used while auth is required and not done.
    preauth_limits: ParseLimits,
    /// Bytes of `inbuf` charged to the listener-wide input budget (0 while it holds less than
    /// `INPUT_CHARGE_ABOVE`: ordinary requests never touch the shared counter).
    charged: usize,
    query_limit: usize,
    reply_limit: usize,
    /// Some while inside MULTI: the queued commands, and whether queueing hit an error.
    multi: Option<(Vec<Vec<Bytes>>, bool)>,
    /// Bytes the queued MULTI commands hold, charged to the memory budget (see `queue_cost`).
    multi_bytes: usize,
    /// Bytes of the read and reply buffers as last published (see `charge_buffers`).
    buf_charged: usize,
    watches: Vec<(Arc<Cache>, WatchTicket)>,
    blocked: Option<Blocked>,
    /// Flush what is pending, then close (QUIT, protocol error, shutdown).
    closing: bool,
    /// Pub/sub state, created on the first subscribe.
    pubsub: Option<PubSub>,
    pubsub_limit: usize,
    /// Engine time for the commands of the current batch: read once per batch, not per
    /// command (clock reads showed up in profiles of pipelined traffic).
    now: u64,
    /// Who this connection is metered and limited as (service/tenant.rs): `anonymous` until
    /// AUTH in auth mode `token`, then the token id; the cache follows `set_cache`.
    tenant: MeterKey,
    /// The tenant's limiters, resolved once per identity (empty when no limit applies).
    quota: QuotaHandle,
    /// Usage not yet folded into `shared.metering`: plain fields, folded once per loop turn so
    /// pipelined commands cost no shared write each.
    meter: Counters,
    /// Auth mode `token`: commands are checked against `principal` (src/authz.rs).
    enforcing: bool,
    /// Who this connection authenticated as; None = not (or no longer) authenticated.
    principal: Option<Principal>,
    /// The principal is a super-user: no per-command checks (the hot path stays as it was).
    unrestricted: bool,
    /// Why the principal was dropped (expired, revoked), for the next NOAUTH.
    lost_auth: Option<AuthError>,
}

const NOAUTH: &str = "NOAUTH Authentication required.";

/// A connection's subscriptions: one engine subscriber (cursors into topic rings, one wake-up
/// point) plus which channels were subscribed through which command, for the push shapes.
struct PubSub {
    sub: Subscriber,
    waiter: Waiter,
    /// Channels subscribed with SSUBSCRIBE (pushed as "smessage").
    sharded: HashSet<Bytes>,
    /// Topics subscribed with TSUBSCRIBE (pushed as "tmessage" with sequence and page).
    sequenced: HashSet<Bytes>,
    events: Vec<Event>,
}

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
    let cache = shared.store.get_or_create(DEFAULT_CACHE);
    let tenant = MeterKey::anonymous(cache.name_arc().clone());
    let quota = shared.quotas.handle(&tenant);
    let mut s = Session {
        shared: shared.clone(),
        info: info.clone(),
        cache,
        resp3: false,
        inbuf: BytesMut::with_capacity(BUF_INITIAL),
        args: Vec::with_capacity(8),
        spliced: Spliced::default(),
        last_cmd: "NULL",
        in_alloc: BUF_INITIAL,
        read_filled: false,
        // Set by the first `sync_out` (no allocation ends at address 0).
        out_alloc: 0,
        out_end: 0,
        out_off: 0,
        shrink_at: None,
        out: BytesMut::with_capacity(BUF_INITIAL),
        preauth_limits: ParseLimits {
            unauthenticated: true,
            ..limits.clone()
        },
        charged: 0,
        limits,
        query_limit,
        reply_limit,
        multi: None,
        multi_bytes: 0,
        buf_charged: 0,
        watches: Vec::new(),
        blocked: None,
        closing: false,
        pubsub: None,
        now: 0,
        pubsub_limit: shared.config.read().limits.pubsub_reply_buffer_limit as usize,
        tenant,
        quota,
        meter: Counters::default(),
        enforcing: shared.auth.enforcing(),
        principal: None,
        unrestricted: false,
        lost_auth: None,
    };
    if !s.enforcing {
        s.principal = Some(Principal::unrestricted(""));
        s.unrestricted = true;
    }
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
        if s.blocked.is_none() && !s.closing {
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
            _ = async { block_notify.as_ref().expect("guarded").notified().await }, if block_notify.is_some() => {
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

impl Session {
    /// Charge (or release) this connection's unparsed input against the listener-wide budget.
    /// Costs one branch while the buffer holds less than `INPUT_CHARGE_ABOVE` and nothing is
    /// charged: ordinary requests never touch the shared counter.
    #[inline]
    fn charge_input(&mut self) {
        let len = self.inbuf.len();
        if len > INPUT_CHARGE_ABOVE || self.charged > 0 {
            let now = if len > INPUT_CHARGE_ABOVE { len } else { 0 };
            if now != self.charged {
                self.shared
                    .resp_input
                    .set(self.info.id, &mut self.charged, now);
            }
        }
    }

    /// Reply bytes not yet written: the buffer plus the payloads queued by reference.
    fn pending(&self) -> usize {
        self.out.len() + self.spliced.bytes
    }

    fn has_pending(&self) -> bool {
        !self.out.is_empty() || !self.spliced.queue.is_empty()
    }

    /// `written` bytes of the pending reply reached the socket.
    fn consume(&mut self, written: usize) {
        consume(&mut self.out, &mut self.spliced, written);
        if self.out.is_empty() {
            self.reply_drained();
        }
    }

    /// Follow `out`'s allocation (see `out_alloc`). The end address stays put while the read
    /// position advances and when `BytesMut` moves pending bytes back to the front; it changes
    /// when `BytesMut` reallocates, which keeps the front already written out ahead of the
    /// data (`Vec::reserve` on the whole allocation). If `BytesMut` had first moved the data to
    /// the front in the same batch, this overcounts by that front until the buffer is next
    /// emptied: an overestimate, never an underestimate, and it does not accumulate.
    #[inline]
    fn sync_out(&mut self) {
        let (ptr, room) = (self.out.as_ptr() as usize, self.out.capacity());
        let end = ptr + room;
        if end == self.out_end {
            self.out_off = ptr.saturating_sub(end - self.out_alloc);
        } else {
            self.out_alloc = room + self.out_off;
            self.out_end = end;
        }
    }

    /// Every reply byte in `out` was written. A large allocation is given back now (a
    /// subscriber's after `BUF_SHRINK_AFTER`); a small one is moved back to its start, where
    /// `capacity()` is the whole allocation again, so `out_alloc` is exact from here. Neither
    /// allocates (the move copies nothing: the buffer is empty).
    fn reply_drained(&mut self) {
        self.sync_out();
        if self.out_alloc > BUF_SHRINK_ABOVE && self.pubsub.is_none() {
            self.reset_out();
            return;
        }
        // Asking one byte more than the room: `try_reclaim` moves the read position back to
        // the start of the allocation, or declines when it is there already.
        let _ = self.out.try_reclaim(self.out.capacity() + 1);
        self.out_alloc = self.out.capacity();
        self.out_end = self.out.as_ptr() as usize + self.out_alloc;
        self.out_off = 0;
    }

    /// A new, small reply buffer.
    fn reset_out(&mut self) {
        self.out = BytesMut::with_capacity(BUF_INITIAL);
        self.out_alloc = self.out.capacity();
        self.out_end = self.out.as_ptr() as usize + self.out_alloc;
        self.out_off = 0;
    }

    /// What CLIENT LIST shows of this connection and only this task changes: the last command
    /// (the buffer sizes are published by `charge_buffers`, when they change). Once per batch:
    /// a lock per command was ~2% of pipelined GET CPU.
    fn publish_client_info(&self) {
        *self.info.last_cmd.lock() = self.last_cmd;
    }
}

/// What one queued MULTI command holds: its arguments (owned copies, each its own allocation), a
/// `Bytes` handle per argument and the argument vector's allocation.
fn queue_cost(args: &[Bytes]) -> usize {
    args.iter()
        .map(|a| ferrite_storage::value::bytes_cost(a.len()) + std::mem::size_of::<Bytes>())
        .sum::<usize>()
        + std::mem::size_of::<Vec<Bytes>>()
        + ferrite_storage::value::ALLOC_OVERHEAD
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

impl Session {
    /// Execute every complete command in the input buffer (until output backs up).
    fn process_input(&mut self) {
        if self.inbuf.is_empty() {
            // Nothing to run (the loop turned for a write or a wake-up): skip the clock reads.
            return;
        }
        // The args vector lives in the session: no allocation per batch or per command
        // (`tests/zero_alloc.rs` holds warm GET/SET to zero allocations).
        let mut args = std::mem::take(&mut self.args);
        let mut count = 0u64;
        self.now = self.shared.store.now_ms();
        // CLIENT LIST's idle time: the batch's clock read serves it.
        self.info.last_active_ms.store(self.now, Ordering::Relaxed);
        self.still_authenticated();
        // Request metrics: exact counts per family, the batch's time shared evenly (one clock
        // read per batch; parsing included). See `metrics::BatchTimer`.
        let mut timer = metrics::BatchTimer::start();
        while self.pending() < OUT_SOFT_LIMIT && !self.closing && self.blocked.is_none() {
            let unparsed = self.inbuf.len();
            // Before AUTH (auth required), Redis 7's caps: refused from the header alone.
            let limits = if self.principal.is_some() {
                &self.limits
            } else {
                &self.preauth_limits
            };
            match parse_command(&mut self.inbuf, limits, &mut args) {
                Ok(true) => {
                    count += 1;
                    let frame = (unparsed - self.inbuf.len()) as u64;
                    // The args vector is reused across commands: no allocation per command.
                    let family = self.execute_metered(&args, frame);
                    timer.add(family);
                    if self.info.killed.load(Ordering::Relaxed) {
                        self.closing = true;
                    }
                }
                Ok(false) => break,
                Err(e) => {
                    ServerStats::add(&self.shared.stats.protocol_errors, 1);
                    self.writer().error(&e.message());
                    self.closing = true;
                    break;
                }
            }
        }
        timer.finish(Protocol::Resp);
        self.charge_buffers();
        self.publish_client_info();
        // Drop the references into the read buffer before it is reused.
        args.clear();
        self.args = args;
        self.charge_input();
        if count > 0 {
            ServerStats::add(&self.shared.stats.total_commands, count);
        }
        self.arm_shrink();
    }

    /// Schedule giving a subscriber's large reply buffer back, once it is empty (see
    /// `BUF_SHRINK_AFTER`; other connections' go back at once, in `reply_drained`).
    fn arm_shrink(&mut self) {
        let grew = self.out_alloc > BUF_SHRINK_ABOVE || self.in_alloc > BUF_INITIAL;
        if grew && self.shrink_at.is_none() && self.inbuf.is_empty() && !self.has_pending() {
            self.shrink_at = Some(Instant::now() + BUF_SHRINK_AFTER);
        }
    }

    fn shrink_buffers(&mut self) {
        self.shrink_at = None;
        if !self.has_pending() && self.out_alloc > BUF_SHRINK_ABOVE {
            self.reset_out();
        }
        // A streaming client's grown read buffer (`STREAM_READ_MAX`) goes back once it is quiet.
        if self.inbuf.is_empty() && self.in_alloc > BUF_INITIAL && self.in_alloc <= BUF_SHRINK_ABOVE
        {
            self.inbuf = BytesMut::with_capacity(BUF_INITIAL);
            self.in_alloc = self.inbuf.capacity();
        }
    }

    fn writer(&mut self) -> ReplyWriter<'_> {
        ReplyWriter::new(&mut self.out, self.resp3)
    }

    /// Re-validate the principal (expiry, revocation) once per batch; drops it when no longer
    /// valid, so later commands get NOAUTH. Returns whether the connection is authenticated.
    fn still_authenticated(&mut self) -> bool {
        if !self.enforcing {
            return true;
        }
        let Some(p) = &self.principal else {
            return false;
        };
        match self.shared.auth.check_at(p, self.now / 1000) {
            Ok(()) => true,
            Err(e) => {
                self.principal = None;
                self.unrestricted = false;
                self.lost_auth = Some(e);
                false
            }
        }
    }

    /// The NOAUTH error for a connection without a (valid) principal.
    fn noauth_message(&self) -> String {
        match &self.lost_auth {
            Some(e) => format!("NOAUTH Authentication required ({e})."),
            None => NOAUTH.to_string(),
        }
    }

    /// Token mode: NOAUTH before authentication, NOPERM outside the token's permissions.
    fn authorize(&self, spec: &'static CommandSpec, args: &[Bytes]) -> Result<(), String> {
        let Some(p) = &self.principal else {
            if matches!(spec.name, "auth" | "hello" | "quit" | "reset") {
                return Ok(());
            }
            return Err(self.noauth_message());
        };
        crate::resp::authz::authorize(p, self.cache.name(), spec, args)
            .map_err(|d| format!("NOPERM {d}"))
    }

    /// Quota check, execution and metering of one command whose RESP frame was `bytes_in`
    /// bytes. A refused command does not run and is not metered; everything else is one
    /// operation whose reply bytes are what it appended to the output buffer (a blocking
    /// command's later reply is added when it comes, see `retry_blocked`).
    fn execute_metered(&mut self, args: &[Bytes], bytes_in: u64) -> Family {
        if args.first().is_some_and(|a| eq_ic(a, "ferrite.metering")) {
            // Reading the figures is operator traffic (the admin port's job), not the tenant's.
            return self.execute(args);
        }
        let limited = self.quota.is_active() && !quota_exempt(args);
        if limited {
            if let Err(e) = self.quota.admit() {
                let msg = format!("ERR {e}");
                self.writer().error(&msg);
                return args
                    .first()
                    .and_then(|name| lookup(name))
                    .map_or(Family::Other, |spec| Family::from_resp_group(spec.group));
            }
        }
        let start = self.out.len();
        let family = self.execute(args);
        let bytes_out = (self.out.len() - start) as u64;
        self.meter.add(&Counters::op(bytes_in, bytes_out));
        if limited {
            self.quota.charge(bytes_in + bytes_out);
        }
        family
    }

    /// Reply bytes produced outside a command's own turn (a blocked command's late reply,
    /// pub/sub pushes): metered and charged to the tenant, no operation counted.
    fn meter_late_output(&mut self, start: usize) {
        let n = self.out.len().saturating_sub(start) as u64;
        self.meter.bytes_out += n;
        self.quota.charge(n);
    }

    /// Hand the usage gathered since the last fold to the shared metering.
    fn fold_meter(&mut self) {
        if !self.meter.is_zero() {
            self.shared.metering.record(&self.tenant, &self.meter);
            self.meter = Counters::default();
        }
    }

    /// Change who this connection is metered and limited as: usage so far stays with the old
    /// identity. The seam for auth: AUTH / HELLO AUTH call this with the token's id.
    pub fn set_tenant(&mut self, tenant: MeterKey) {
        if tenant != self.tenant {
            self.fold_meter();
            self.quota = self.shared.quotas.handle(&tenant);
            self.tenant = tenant;
        }
    }

    /// Execute one command; returns its metrics family.
    fn execute(&mut self, args: &[Bytes]) -> Family {
        let Some(spec) = args.first().and_then(|name| lookup(name)) else {
            if !args.is_empty() {
                let msg = unknown_command_message(args);
                if let Some((_, err)) = self.multi.as_mut() {
                    *err = true;
                }
                self.writer().error(&msg);
            }
            return Family::Other;
        };
        self.execute_spec(spec, args);
        Family::from_resp_group(spec.group)
    }

    fn execute_spec(&mut self, spec: &'static CommandSpec, args: &[Bytes]) {
        // Published to CLIENT LIST once per batch (`publish_client_info`), not per command.
        self.last_cmd = spec.name;
        if !spec.arity_ok(args.len()) {
            if let Some((_, err)) = self.multi.as_mut() {
                *err = true;
            }
            let msg = format!("ERR wrong number of arguments for '{}' command", spec.name);
            self.writer().error(&msg);
            return;
        }
        if spec.movable {
            // Key positions follow `numkeys`: a malformed one is an error before the command is
            // authorized, queued or run, so its keys are exactly the ones checked.
            if let Err(e) = spec.check_keys(args) {
                if let Some((_, err)) = self.multi.as_mut() {
                    *err = true;
                }
                let msg = spec.keys_error(e);
                self.writer().error(&msg);
                return;
            }
        }
        if !self.unrestricted {
            if let Err(msg) = self.authorize(spec, args) {
                if let Some((_, err)) = self.multi.as_mut() {
                    *err = true;
                }
                self.writer().error(&msg);
                return;
            }
        }
        if self.multi.is_some()
            && !matches!(
                spec.name,
                "multi" | "exec" | "discard" | "watch" | "quit" | "reset"
            )
        {
            if spec.has(flags::NO_MULTI) {
                self.multi.as_mut().expect("in multi").1 = true;
                let msg = format!(
                    "ERR Command not allowed inside a transaction: '{}'",
                    spec.name
                );
                self.writer().error(&msg);
                return;
            }
            // Queued commands hold memory until EXEC: count it in the budget, and refuse
            // queueing past it like Redis (OOM, and EXEC then answers EXECABORT).
            let cost = queue_cost(args);
            if self.shared.store.ensure_memory(cost as u64).is_err() {
                self.multi.as_mut().expect("in multi").1 = true;
                self.writer().error(ERR_OOM);
                return;
            }
            self.shared.store.budget().charge(cost as isize);
            ServerStats::add_signed(&self.shared.stats.multi_queued, cost as isize);
            self.multi_bytes += cost;
            // Owned copies: slices would pin the read buffers they came from (whole chunks of
            // pipelined input, more than `queue_cost` counts) until EXEC.
            let owned = args.iter().map(|a| Bytes::copy_from_slice(a)).collect();
            self.multi.as_mut().expect("in multi").0.push(owned);
            self.writer().simple("QUEUED");
            return;
        }
        if !self.resp3 && self.in_subscribe_mode() && !spec.has(flags::PUBSUB_OK) {
            let msg = format!(
                "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                spec.name
            );
            self.writer().error(&msg);
            return;
        }
        if spec.has(flags::CONN) {
            self.connection_command(spec, args);
            return;
        }
        self.run(spec, args, true);
    }

    fn in_subscribe_mode(&self) -> bool {
        self.info.subscriptions.load(Ordering::Relaxed)
            + self.info.psubscriptions.load(Ordering::Relaxed)
            > 0
    }

    /// Run a table command outside a transaction. Returns a block request if the command wants
    /// to wait (only when `may_block`).
    fn run(&mut self, spec: &'static CommandSpec, args: &[Bytes], may_block: bool) {
        if let Some(req) = self.run_handler(spec, args, may_block) {
            let notify = Arc::new(Notify::new());
            self.shared
                .waiters
                .register(&self.cache, &req.keys, &notify);
            // A push between the handler releasing its shard lock and this registration would
            // have signalled nobody: retry once now. Retries then run while still registered
            // (see `retry_blocked`), so later pushes can't slip through either.
            notify.notify_one();
            self.blocked = Some(Blocked {
                // Owned copies, as for MULTI: slices would pin the read buffer they came from
                // (all of it, outside what `in_alloc` counts once the buffer is replaced).
                args: args.iter().map(|a| Bytes::copy_from_slice(a)).collect(),
                spec,
                cache: self.cache.clone(),
                keys: req.keys,
                deadline: req.timeout.map(|t| Instant::now() + t),
                notify,
            });
        }
    }

    /// Execute a table command; returns the block request of a blocking command that found
    /// nothing to pop.
    fn run_handler(
        &mut self,
        spec: &'static CommandSpec,
        args: &[Bytes],
        may_block: bool,
    ) -> Option<BlockRequest> {
        if spec.has(flags::DENYOOM) {
            let incoming: usize = args[1..].iter().map(|a| a.len()).sum();
            if self.shared.store.ensure_memory(incoming as u64).is_err() {
                self.writer().error(ERR_OOM);
                return None;
            }
        }
        let mut block: Option<BlockRequest> = None;
        let reply_start = self.out.len();
        {
            let mut w = ReplyWriter::new(&mut self.out, self.resp3);
            let mut ctx = Ctx {
                shared: &self.shared,
                cache: &self.cache,
                now: self.now,
                client: &self.info,
                resp3: self.resp3,
                exec: None,
                may_block,
                block: &mut block,
                publisher: self
                    .principal
                    .as_ref()
                    .map(|p| p.token_id())
                    .filter(|id| !id.is_empty()),
            };
            (spec.handler)(&mut ctx, args, &mut w);
        }
        // WATCH invalidation and blocked-list wake-ups need nothing here: the engine's change
        // feed reports every write the handler made.
        self.meter.messages_published += published(spec, &self.out[reply_start..]);
        block
    }

    /// A key we wait on was pushed to (or the first post-registration retry): run the command
    /// again, still registered, so a push racing with this retry leaves a wake-up behind.
    fn retry_blocked(&mut self) {
        let Some(b) = self.blocked.take() else { return };
        self.now = self.shared.store.now_ms();
        if !self.still_authenticated() {
            // The token that authorized the command expired or was revoked while it waited: it
            // is not served; it gets the error the connection's next command would get.
            self.shared.waiters.unregister(&b.cache, &b.keys, &b.notify);
            let start = self.out.len();
            let msg = self.noauth_message();
            self.writer().error(&msg);
            self.meter_late_output(start);
            return;
        }
        let start = self.out.len();
        let still_blocked = self.run_handler(b.spec, &b.args, true).is_some();
        self.meter_late_output(start);
        if still_blocked {
            self.blocked = Some(b); // still nothing: keep waiting, same deadline
        } else {
            self.shared.waiters.unregister(&b.cache, &b.keys, &b.notify);
        }
    }

    fn unblock_timeout(&mut self) {
        if let Some(b) = self.blocked.take() {
            self.shared.waiters.unregister(&b.cache, &b.keys, &b.notify);
            let start = self.out.len();
            self.writer().null_array();
            self.meter_late_output(start);
        }
    }

    /// Commands that change connection state.
    fn connection_command(&mut self, spec: &'static CommandSpec, args: &[Bytes]) {
        match spec.name {
            "multi" => {
                if self.multi.is_some() {
                    self.writer().error("ERR MULTI calls can not be nested");
                } else {
                    self.multi = Some((Vec::new(), false));
                    self.info.in_multi.store(true, Ordering::Relaxed);
                    self.writer().ok();
                }
            }
            "discard" => {
                if self.multi.take().is_some() {
                    self.release_multi_memory();
                    self.info.in_multi.store(false, Ordering::Relaxed);
                    self.unwatch_all();
                    self.writer().ok();
                } else {
                    self.writer().error("ERR DISCARD without MULTI");
                }
            }
            "exec" => self.exec(),
            "watch" => {
                if self.multi.is_some() {
                    self.writer().error("ERR WATCH inside MULTI is not allowed");
                    return;
                }
                for k in &args[1..] {
                    let t = self.cache.watch().watch(k);
                    self.watches.push((self.cache.clone(), t));
                }
                self.writer().ok();
            }
            "unwatch" => {
                self.unwatch_all();
                self.writer().ok();
            }
            "quit" => {
                self.writer().ok();
                self.closing = true;
            }
            "reset" => {
                self.multi = None;
                self.release_multi_memory();
                self.info.in_multi.store(false, Ordering::Relaxed);
                self.unwatch_all();
                self.resp3 = false;
                self.info.resp.store(2, Ordering::Relaxed);
                *self.info.name.lock() = None;
                self.set_cache(self.shared.store.get_or_create(DEFAULT_CACHE));
                if self.enforcing {
                    // Like Redis: RESET drops the authenticated user.
                    self.principal = None;
                    self.unrestricted = false;
                    self.set_tenant(MeterKey::anonymous(self.cache.name_arc().clone()));
                }
                self.pubsub = None;
                self.sync_sub_counts();
                self.writer().simple("RESET");
            }
            "hello" => self.hello(args),
            "subscribe" | "unsubscribe" | "psubscribe" | "punsubscribe" | "ssubscribe"
            | "sunsubscribe" | "tsubscribe" | "tunsubscribe" => {
                self.pubsub_command(spec.name, args)
            }
            "auth" => {
                let (user, token) = match args.len() {
                    2 => (None, &args[1]),
                    3 => (Some(&args[1]), &args[2]),
                    _ => {
                        self.writer().error("ERR syntax error");
                        return;
                    }
                };
                if let Err(e) = self.authenticate(user.cloned(), token) {
                    self.writer().error(&e);
                } else {
                    self.writer().ok();
                }
            }
            "ferrite.revoke" => self.revoke(&args[1]),
            "select" => match crate::resp::args::parse_i64(&args[1]) {
                Some(0) => self.writer().ok(),
                Some(_) => self.writer().error("ERR DB index is out of range"),
                None => self.writer().error(crate::resp::args::ERR_NOT_INT),
            },
            other => {
                let msg = format!("ERR unknown command '{other}'");
                self.writer().error(&msg);
            }
        }
    }

    fn hello(&mut self, args: &[Bytes]) {
        let mut i = 1;
        let mut resp3 = self.resp3;
        if args.len() > 1 {
            match crate::resp::args::parse_i64(&args[1]) {
                Some(2) => resp3 = false,
                Some(3) => resp3 = true,
                Some(_) => {
                    self.writer().error("NOPROTO unsupported protocol version");
                    return;
                }
                None => {
                    self.writer()
                        .error("ERR Protocol version is not an integer or out of range");
                    return;
                }
            }
            i = 2;
        }
        let mut auth = None;
        let mut name = None;
        while i < args.len() {
            if eq_ic(&args[i], "auth") && i + 2 < args.len() {
                auth = Some((args[i + 1].clone(), args[i + 2].clone()));
                i += 3;
            } else if eq_ic(&args[i], "setname") && i + 1 < args.len() {
                // Checked as CLIENT SETNAME checks it (Redis 7 does so while parsing options):
                // a newline or space in a name would forge lines or fields in CLIENT LIST.
                if !crate::resp::commands::server::valid_attr(&args[i + 1]) {
                    self.writer().error(
                        "ERR Client names cannot contain spaces, newlines or special characters.",
                    );
                    return;
                }
                name = Some(args[i + 1].clone());
                i += 2;
            } else {
                let msg = format!(
                    "ERR Syntax error in HELLO option '{}'",
                    String::from_utf8_lossy(&args[i])
                );
                self.writer().error(&msg);
                return;
            }
        }
        // Authenticate before anything changes: a failed HELLO leaves the connection as it was.
        if let Some((user, token)) = auth {
            if let Err(e) = self.authenticate(Some(user), &token) {
                self.writer().error(&e);
                return;
            }
        } else if self.principal.is_none() {
            self.writer().error(
                "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
                 HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and \
                 select the RESP protocol version at the same time",
            );
            return;
        }
        self.resp3 = resp3;
        if let Some(n) = name {
            // Copied: a slice would pin the whole request frame. Empty clears, as in CLIENT SETNAME.
            *self.info.name.lock() = (!n.is_empty()).then(|| Bytes::copy_from_slice(&n));
        }
        self.info
            .resp
            .store(if self.resp3 { 3 } else { 2 }, Ordering::Relaxed);
        let id = self.info.id as i64;
        let proto = if self.resp3 { 3 } else { 2 };
        let mut w = self.writer();
        w.map(7);
        w.bulk(b"server");
        w.bulk(b"redis");
        w.bulk(b"version");
        w.bulk(crate::REDIS_COMPAT_VERSION.as_bytes());
        w.bulk(b"proto");
        w.int(proto);
        w.bulk(b"id");
        w.int(id);
        w.bulk(b"mode");
        w.bulk(b"standalone");
        w.bulk(b"role");
        w.bulk(b"master");
        w.bulk(b"modules");
        w.array(0);
    }

    fn unwatch_all(&mut self) {
        for (cache, t) in self.watches.drain(..) {
            cache.watch().unwatch(&t);
        }
    }

    fn exec(&mut self) {
        let Some((queued, had_error)) = self.multi.take() else {
            self.writer().error("ERR EXEC without MULTI");
            return;
        };
        self.release_multi_memory();
        self.info.in_multi.store(false, Ordering::Relaxed);
        if had_error {
            self.unwatch_all();
            self.writer()
                .error("EXECABORT Transaction discarded because of previous errors.");
            return;
        }
        let watches_ok = self.watches.iter().all(|(c, t)| c.watch().still_valid(t));
        self.unwatch_all();
        if !watches_ok {
            self.writer().null_array();
            return;
        }
        // Make room for the whole transaction first: eviction takes shard locks, which would
        // deadlock once EXEC holds them all.
        let incoming: usize = queued
            .iter()
            .filter(|a| {
                lookup(&a[0])
                    .map(|s| s.has(flags::DENYOOM))
                    .unwrap_or(false)
            })
            .map(|a| a[1..].iter().map(|x| x.len()).sum::<usize>())
            .sum();
        if incoming > 0 && self.shared.store.ensure_memory(incoming as u64).is_err() {
            self.writer().error(&format!("EXECABORT {}", &ERR_OOM));
            return;
        }
        let cache = self.cache.clone();
        let mut locked: Locked<'_> = cache.lock_all();
        ReplyWriter::new(&mut self.out, self.resp3).array(queued.len());
        for args in &queued {
            let spec = lookup(&args[0]).expect("validated when queued");
            let reply_start = self.out.len();
            let mut w = ReplyWriter::new(&mut self.out, self.resp3);
            if spec.has(flags::CONN) {
                // Connection commands inside MULTI (e.g. a queued BLPOP is table-run below;
                // SELECT/HELLO here) are answered without changing transaction isolation.
                match spec.name {
                    "select" => w.ok(),
                    "auth" => w.ok(),
                    _ => w.error("ERR command not allowed inside a transaction"),
                }
                continue;
            }
            let mut block = None;
            let mut ctx = Ctx {
                shared: &self.shared,
                cache: &cache,
                now: self.shared.store.now_ms(),
                client: &self.info,
                resp3: self.resp3,
                exec: Some(&mut locked),
                may_block: false,
                block: &mut block,
                publisher: self
                    .principal
                    .as_ref()
                    .map(|p| p.token_id())
                    .filter(|id| !id.is_empty()),
            };
            (spec.handler)(&mut ctx, args, &mut w);
            self.meter.messages_published += published(spec, &self.out[reply_start..]);
        }
        // Every write above reached WATCHes and blocked clients through the change feed, under
        // the locks, so a client watching these keys sees them changed before EXEC returns.
        drop(locked);
    }

    fn set_cache(&mut self, cache: Arc<Cache>) {
        *self.info.cache.lock() = cache.name_arc().clone();
        // Metering and limits follow the cache the connection uses.
        self.set_tenant(MeterKey::new(
            self.tenant.token.clone(),
            cache.name_arc().clone(),
        ));
        self.cache = cache;
    }

    /// AUTH / HELLO AUTH. The username slot names the cache the connection uses (`default` is
    /// the default cache, as Redis's default user); the password slot is the token. In auth
    /// mode `none` any token is accepted and only the cache choice applies. Errors are replies.
    fn authenticate(&mut self, user: Option<Bytes>, token: &[u8]) -> Result<(), String> {
        let principal = if self.enforcing {
            let token = std::str::from_utf8(token)
                .map_err(|_| AuthError::Malformed)
                .and_then(|t| self.shared.auth.authenticate(t));
            match token {
                Ok(p) => p,
                Err(e) => return Err(format!("WRONGPASS invalid token: {e}")),
            }
        } else {
            Principal::unrestricted("")
        };
        if let Some(user) = user {
            let Ok(name) = std::str::from_utf8(&user) else {
                return Err("ERR the cache name (AUTH username) must be UTF-8".into());
            };
            let name = if name == "default" {
                DEFAULT_CACHE
            } else {
                name
            };
            if !principal.can_use_cache(name) {
                return Err(format!(
                    "NOPERM this token has no permission on cache '{name}'"
                ));
            }
            let cache = if name == DEFAULT_CACHE || principal.is_super_user() {
                self.shared.store.get_or_create(name)
            } else {
                match self.shared.store.cache(name) {
                    Some(c) => c,
                    None => return Err(format!("ERR cache '{name}' does not exist")),
                }
            };
            if !Arc::ptr_eq(&cache, &self.cache) {
                self.set_cache(cache);
            }
        }
        self.unrestricted = principal.is_super_user();
        if self.enforcing {
            // From now on this connection's usage is metered and limited as the token's.
            self.set_tenant(MeterKey::new(
                principal.token_id().clone(),
                self.cache.name_arc().clone(),
            ));
        }
        self.principal = Some(principal);
        self.lost_auth = None;
        self.recheck_subscriptions();
        Ok(())
    }

    /// After a (re-)AUTH: a subscription must not outlive the token that authorized it. Every
    /// subscription (of any cache) is checked against the new principal and those it may not
    /// have are dropped, with the unsubscribe push a client expects; what is kept is authorized
    /// by the current token, whose expiry and revocation the connection enforces (a subscriber
    /// is disconnected at its next message once it is no longer valid).
    fn recheck_subscriptions(&mut self) {
        let (Some(p), Some(ps)) = (self.principal.as_ref(), self.pubsub.as_mut()) else {
            return;
        };
        if p.is_super_user() {
            return;
        }
        let resp3 = self.resp3;
        for (cache, topic) in ps.sub.channels() {
            let cache_name = String::from_utf8_lossy(&cache);
            if p.can_topic(&cache_name, &topic, ferrite_auth::TopicAccess::Subscribe) {
                continue;
            }
            ps.sub.unsubscribe(&cache, &topic);
            let kind: &[u8] = if ps.sharded.remove(&topic) {
                b"sunsubscribe"
            } else if ps.sequenced.remove(&topic) {
                b"tunsubscribe"
            } else {
                b"unsubscribe"
            };
            let count = ps.sub.subscription_count() as i64;
            let mut w = ReplyWriter::new(&mut self.out, resp3);
            w.push(3);
            w.bulk(kind);
            w.bulk(&topic);
            w.int(count);
        }
        for (cache, pattern) in ps.sub.patterns() {
            let cache_name = String::from_utf8_lossy(&cache);
            if p.can_topic_all(&cache_name, ferrite_auth::TopicAccess::Subscribe) {
                continue;
            }
            ps.sub.punsubscribe(&cache, &pattern);
            let count = ps.sub.subscription_count() as i64;
            let mut w = ReplyWriter::new(&mut self.out, resp3);
            w.push(3);
            w.bulk(b"punsubscribe");
            w.bulk(&pattern);
            w.int(count);
        }
        self.sync_sub_counts();
        if self
            .pubsub
            .as_ref()
            .is_some_and(|p| p.sub.subscription_count() == 0)
        {
            self.pubsub = None;
        }
    }

    /// FERRITE.REVOKE <token-id>: 1 if newly revoked, 0 if it already was (super-user only,
    /// checked by `authorize`).
    fn revoke(&mut self, id: &[u8]) {
        let Some(a) = self.shared.auth.authenticator().cloned() else {
            self.writer().error(
                "ERR token revocation needs auth mode token (there are no tokens in mode none)",
            );
            return;
        };
        let Ok(id) = std::str::from_utf8(id) else {
            self.writer().error("ERR token id must be UTF-8");
            return;
        };
        match a.revoke(id) {
            Ok(new) => self.writer().int(new as i64),
            Err(e) => {
                let msg = format!("ERR cannot revoke: {e}");
                self.writer().error(&msg)
            }
        }
    }

    fn pubsub_state(&mut self) -> &mut PubSub {
        if self.pubsub.is_none() {
            let sub = self.shared.topics.subscriber();
            let waiter = sub.waiter();
            self.pubsub = Some(PubSub {
                sub,
                waiter,
                sharded: HashSet::new(),
                sequenced: HashSet::new(),
                events: Vec::new(),
            });
        }
        self.pubsub.as_mut().expect("just created")
    }

    fn sync_sub_counts(&self) {
        let (ch, pat) = self
            .pubsub
            .as_ref()
            .map(|p| (p.sub.channel_count(), p.sub.pattern_count()))
            .unwrap_or((0, 0));
        self.info.subscriptions.store(ch, Ordering::Relaxed);
        self.info.psubscriptions.store(pat, Ordering::Relaxed);
    }

    /// SUBSCRIBE and friends, with Redis's reply shapes (one push per channel).
    fn pubsub_command(&mut self, name: &'static str, args: &[Bytes]) {
        let cache_name = self.cache.name_arc().clone();
        let cache = cache_name.as_bytes();
        let resp3 = self.resp3;
        match name {
            "subscribe" | "ssubscribe" => {
                let kind: &[u8] = if name == "subscribe" {
                    b"subscribe"
                } else {
                    b"ssubscribe"
                };
                for ch in &args[1..] {
                    let ps = self.pubsub_state();
                    if let Err(e) = ps.sub.subscribe(cache, ch, None) {
                        let msg = crate::resp::commands::pubsub::topics_error(&e);
                        ReplyWriter::new(&mut self.out, resp3).error(&msg);
                        continue;
                    }
                    if name == "ssubscribe" {
                        ps.sharded.insert(ch.clone());
                    }
                    let count = ps.sub.subscription_count() as i64;
                    let mut w = ReplyWriter::new(&mut self.out, resp3);
                    w.push(3);
                    w.bulk(kind);
                    w.bulk(ch);
                    w.int(count);
                }
            }
            "tsubscribe" => {
                let topic = &args[1];
                let mut resume = None;
                let (mut seq, mut page) = (None, None);
                let mut i = 2;
                while i + 1 < args.len() {
                    let v = crate::resp::args::parse_u64(&args[i + 1]);
                    if eq_ic(&args[i], "from") {
                        seq = v;
                    } else if eq_ic(&args[i], "page") {
                        page = v;
                    } else {
                        seq = None;
                        break;
                    }
                    if v.is_none() {
                        break;
                    }
                    i += 2;
                }
                if i != args.len() || (args.len() > 2 && seq.is_none()) {
                    self.writer()
                        .error("ERR syntax error: TSUBSCRIBE topic [FROM seq [PAGE page]]");
                    return;
                }
                if let Some(seq) = seq {
                    resume = Some(Resume {
                        seq,
                        page: page.unwrap_or(0),
                    });
                }
                let ps = self.pubsub_state();
                match ps.sub.subscribe(cache, topic, resume) {
                    Ok(sub) => {
                        ps.sequenced.insert(topic.clone());
                        let count = ps.sub.subscription_count() as i64;
                        let mut w = ReplyWriter::new(&mut self.out, resp3);
                        w.push(5);
                        w.bulk(b"tsubscribe");
                        w.bulk(topic);
                        w.int(count);
                        w.int(sub.page as i64);
                        w.int(sub.next_seq as i64);
                    }
                    Err(e) => {
                        let msg = crate::resp::commands::pubsub::topics_error(&e);
                        self.writer().error(&msg);
                    }
                }
            }
            "unsubscribe" | "sunsubscribe" | "tunsubscribe" => {
                let kind: &[u8] = match name {
                    "unsubscribe" => b"unsubscribe",
                    "sunsubscribe" => b"sunsubscribe",
                    _ => b"tunsubscribe",
                };
                let channels: Vec<Bytes> = if args.len() > 1 {
                    args[1..].to_vec()
                } else {
                    match self.pubsub.as_ref() {
                        Some(ps) => ps.sub.channels().into_iter().map(|(_, t)| t).collect(),
                        None => Vec::new(),
                    }
                };
                if channels.is_empty() {
                    let count = self
                        .pubsub
                        .as_ref()
                        .map(|p| p.sub.subscription_count())
                        .unwrap_or(0) as i64;
                    let mut w = self.writer();
                    w.push(3);
                    w.bulk(kind);
                    w.null();
                    w.int(count);
                }
                for ch in channels {
                    let ps = self.pubsub_state();
                    ps.sub.unsubscribe(cache, &ch);
                    ps.sharded.remove(&ch);
                    ps.sequenced.remove(&ch);
                    let count = ps.sub.subscription_count() as i64;
                    let mut w = ReplyWriter::new(&mut self.out, resp3);
                    w.push(3);
                    w.bulk(kind);
                    w.bulk(&ch);
                    w.int(count);
                }
            }
            "psubscribe" => {
                for pat in &args[1..] {
                    let ps = self.pubsub_state();
                    if let Err(e) = ps.sub.psubscribe(cache, pat) {
                        let msg = crate::resp::commands::pubsub::topics_error(&e);
                        ReplyWriter::new(&mut self.out, resp3).error(&msg);
                        continue;
                    }
                    let count = ps.sub.subscription_count() as i64;
                    let mut w = ReplyWriter::new(&mut self.out, resp3);
                    w.push(3);
                    w.bulk(b"psubscribe");
                    w.bulk(pat);
                    w.int(count);
                }
            }
            _ => {
                // punsubscribe
                let patterns: Vec<Bytes> = if args.len() > 1 {
                    args[1..].to_vec()
                } else {
                    match self.pubsub.as_ref() {
                        Some(ps) => ps.sub.patterns().into_iter().map(|(_, p)| p).collect(),
                        None => Vec::new(),
                    }
                };
                if patterns.is_empty() {
                    let count = self
                        .pubsub
                        .as_ref()
                        .map(|p| p.sub.subscription_count())
                        .unwrap_or(0) as i64;
                    let mut w = self.writer();
                    w.push(3);
                    w.bulk(b"punsubscribe");
                    w.null();
                    w.int(count);
                }
                for pat in patterns {
                    let ps = self.pubsub_state();
                    ps.sub.punsubscribe(cache, &pat);
                    let count = ps.sub.subscription_count() as i64;
                    let mut w = ReplyWriter::new(&mut self.out, resp3);
                    w.push(3);
                    w.bulk(b"punsubscribe");
                    w.bulk(&pat);
                    w.int(count);
                }
            }
        }
        self.sync_sub_counts();
        if self
            .pubsub
            .as_ref()
            .map(|p| p.sub.subscription_count() == 0)
            .unwrap_or(false)
        {
            self.pubsub = None; // leave subscribe mode; frees the engine subscriber
        }
    }

    /// Move ready messages into the output buffer. Returns false when the subscriber's output
    /// budget is exceeded (the caller disconnects it: Redis's pubsub output-buffer limit).
    fn deliver_events(&mut self) -> bool {
        let Some(ps) = self.pubsub.as_mut() else {
            return true;
        };
        let resp3 = self.resp3;
        loop {
            ps.events.clear();
            if ps.sub.drain(256, &mut ps.events) == 0 {
                return true;
            }
            let start = self.out.len();
            let spliced_start = self.spliced.bytes;
            let mut w = ReplyWriter::new(&mut self.out, resp3);
            for ev in ps.events.drain(..) {
                if matches!(ev, Event::Message { .. }) {
                    self.meter.messages_delivered += 1;
                }
                match ev {
                    Event::Message {
                        topic,
                        pattern: Some(pat),
                        msg,
                        ..
                    } => {
                        w.push(4);
                        w.bulk(b"pmessage");
                        w.bulk(&pat);
                        w.bulk(&topic);
                        bulk_payload(&mut w, &msg, &mut self.spliced);
                    }
                    Event::Message {
                        topic,
                        pattern: None,
                        msg,
                        ..
                    } => {
                        // Most subscribers use neither TSUBSCRIBE nor SSUBSCRIBE: skip hashing
                        // the topic name per message then (SipHash was ~1% of 1-subscriber
                        // fan-out CPU).
                        if !ps.sequenced.is_empty() && ps.sequenced.contains(&topic) {
                            w.push(5);
                            w.bulk(b"tmessage");
                            w.bulk(&topic);
                            bulk_payload(&mut w, &msg, &mut self.spliced);
                            w.int(msg.seq as i64);
                            w.int(msg.page as i64);
                        } else {
                            w.push(3);
                            w.bulk(if !ps.sharded.is_empty() && ps.sharded.contains(&topic) {
                                b"smessage"
                            } else {
                                b"message"
                            });
                            w.bulk(&topic);
                            bulk_payload(&mut w, &msg, &mut self.spliced);
                        }
                    }
                    Event::Discontinuity {
                        topic,
                        pattern: None,
                        last_seq,
                        new_seq,
                        page,
                        ..
                    } if ps.sequenced.contains(&topic) => {
                        w.push(5);
                        w.bulk(b"tdiscontinuity");
                        w.bulk(&topic);
                        w.int(last_seq as i64);
                        w.int(new_seq as i64);
                        w.int(page as i64);
                    }
                    // Plain Redis subscribers have no way to be told of a gap: Redis itself
                    // drops such clients; the engine's metrics count the discontinuity.
                    Event::Discontinuity { .. } => {}
                    Event::CacheGone { .. } => {}
                }
            }
            let pushed = (self.out.len() - start + self.spliced.bytes - spliced_start) as u64;
            self.meter.bytes_out += pushed;
            self.quota.charge(pushed);
            if self.out.len() + self.spliced.bytes > self.pubsub_limit {
                return false;
            }
        }
    }

    fn cleanup(&mut self) {
        if let Some(b) = self.blocked.take() {
            self.shared.waiters.unregister(&b.cache, &b.keys, &b.notify);
        }
        self.unwatch_all();
        self.multi = None;
        self.release_memory();
    }

    /// Give back everything this connection charged to the memory budget: its MULTI queue and
    /// its buffers. At the end of the loop (the close may still wait on the peer for a few
    /// seconds) and again on drop, so a panic or a cancelled task leaks no charge; once is
    /// enough, the second finds nothing.
    fn release_memory(&mut self) {
        self.release_multi_memory();
        let charged = std::mem::take(&mut self.buf_charged) as isize;
        if charged != 0 {
            self.shared.store.budget().charge(-charged);
            ServerStats::add_signed(&self.shared.stats.client_buffers, -charged);
        }
    }

    /// The queued MULTI commands were run or dropped: give their bytes back to the budget.
    fn release_multi_memory(&mut self) {
        let n = std::mem::take(&mut self.multi_bytes) as isize;
        if n != 0 {
            self.shared.store.budget().charge(-n);
            ServerStats::add_signed(&self.shared.stats.multi_queued, -n);
        }
    }

    /// Charge the memory budget (`maxmemory`) for what the read and reply buffers' allocations
    /// hold, as Redis counts client buffers in `used_memory`, and publish it (INFO
    /// `mem_clients_normal`, /metrics, CLIENT LIST). Once per loop turn, and atomic adds only
    /// when an allocation changed, so the per-command path pays nothing. Growth first makes room
    /// as a write does (trims replay windows, evicts keys under allkeys-lru; Redis evicts for
    /// client buffers too) but is never refused: the bytes are already allocated, and what
    /// bounds them is `limits.query_buffer_limit` / `reply_buffer_limit`. Under noeviction the
    /// charge stands and writes get OOM until the buffer shrinks. This could only be done once the
    /// buffers stopped ratcheting (`resp/buffers.rs`, `reply_drained`): a pipelining client's read
    /// buffer used to sit at MiBs and evict keys for nothing.
    fn charge_buffers(&mut self) {
        self.sync_out();
        let now = self.in_alloc + self.out_alloc;
        if now != self.buf_charged {
            let delta = now as isize - self.buf_charged as isize;
            self.buf_charged = now;
            if delta > 0 {
                // No shard lock is held here (between batches), so eviction may lock shards.
                let _ = self.shared.store.ensure_memory(delta as u64);
            }
            self.shared.store.budget().charge(delta);
            ServerStats::add_signed(&self.shared.stats.client_buffers, delta);
            // CLIENT LIST's `rbs` and `omem`.
            self.info
                .read_buf_bytes
                .store(self.in_alloc as u64, Ordering::Relaxed);
            self.info
                .reply_buf_bytes
                .store(self.out_alloc as u64, Ordering::Relaxed);
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.release_memory();
    }
}

/// Commands a limited tenant may always run: the connection handshake (HELLO, AUTH, CLIENT
/// SETINFO/SETNAME, which client libraries send on connect: a throttled tenant must still be
/// able to connect, and AUTH must stay possible to switch to a token with room left), QUIT and
/// RESET. They are metered but neither refused nor charged to the limits (a client reconnecting
/// in a loop would otherwise keep its tenant in debt with handshakes alone).
fn quota_exempt(args: &[Bytes]) -> bool {
    ["auth", "hello", "client", "quit", "reset"]
        .iter()
        .any(|n| eq_ic(&args[0], n))
}

/// 1 when `reply` is the integer reply of a PUBLISH/SPUBLISH (the message was accepted).
fn published(spec: &CommandSpec, reply: &[u8]) -> u64 {
    (matches!(spec.name, "publish" | "spublish") && reply.first() == Some(&b':')) as u64
}

/// Redis 7's message for an unknown command, quoting the first arguments.
fn unknown_command_message(args: &[Bytes]) -> String {
    let name: String = String::from_utf8_lossy(&args[0])
        .chars()
        .take(128)
        .collect();
    let mut msg = format!("ERR unknown command '{name}', with args beginning with: ");
    let mut budget = 128usize;
    for a in &args[1..] {
        if budget == 0 {
            break;
        }
        let s: String = String::from_utf8_lossy(a).chars().take(budget).collect();
        budget = budget.saturating_sub(s.len());
        msg.push_str(&format!("'{s}' "));
    }
    msg
}

#[cfg(test)]
mod splice_tests {
    //! The gathered-write bookkeeping against a plain byte model: whatever sizes the socket
    //! accepts, the bytes leave in exactly the order they were queued.
    use super::*;
    use ferrite_topics::MessageKind;

    fn message(payload: Vec<u8>) -> Arc<Message> {
        Arc::new(Message {
            seq: 1,
            page: 1,
            payload: Bytes::from(payload),
            kind: MessageKind::Binary,
            publisher_id: Arc::from(""),
            published_at_ms: 0,
            stamp: 0,
        })
    }

    #[test]
    fn partial_writes_of_any_size_keep_the_byte_order() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rand = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..200 {
            let mut out = BytesMut::new();
            let mut spliced = Spliced::default();
            let mut want = Vec::new();
            let mut sent = Vec::new();
            // Interleave queuing (small copied bulks, large ones by reference, plain bytes)
            // with writes the socket accepts only partly.
            for step in 0..150 {
                match rand(3) {
                    0 => {
                        let len = [3, 100, 511, 512, 700, 5000][rand(6)];
                        let payload: Vec<u8> = (0..len).map(|i| (i + step) as u8).collect();
                        let mut w = ReplyWriter::new(&mut out, false);
                        bulk_payload(&mut w, &message(payload.clone()), &mut spliced);
                        want.extend_from_slice(format!("${len}\r\n").as_bytes());
                        want.extend_from_slice(&payload);
                        want.extend_from_slice(b"\r\n");
                    }
                    1 => {
                        out.extend_from_slice(b":7\r\n");
                        want.extend_from_slice(b":7\r\n");
                    }
                    _ => {
                        let mut slices = [IoSlice::new(&[]); MAX_IOSLICES];
                        let n = io_slices(&out, &spliced, &mut slices);
                        let gathered: Vec<u8> =
                            slices[..n].iter().flat_map(|s| s.iter().copied()).collect();
                        let accepted = if gathered.is_empty() {
                            0
                        } else {
                            1 + rand(gathered.len())
                        };
                        sent.extend_from_slice(&gathered[..accepted]);
                        consume(&mut out, &mut spliced, accepted);
                    }
                }
                assert_eq!(out.len() + spliced.bytes, want.len() - sent.len());
            }
            while !out.is_empty() || !spliced.queue.is_empty() {
                let mut slices = [IoSlice::new(&[]); MAX_IOSLICES];
                let n = io_slices(&out, &spliced, &mut slices);
                let gathered: Vec<u8> =
                    slices[..n].iter().flat_map(|s| s.iter().copied()).collect();
                sent.extend_from_slice(&gathered);
                consume(&mut out, &mut spliced, gathered.len());
            }
            assert!(sent == want, "bytes out of order");
            assert_eq!(spliced.bytes, 0);
        }
    }
}
