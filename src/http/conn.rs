//! The serve loop of the HTTP API and the admin port: accept, cap, pick HTTP/1.1 or HTTP/2,
//! bound how long a connection may sit without a request, and drain on shutdown.
//!
//! Why not `axum::serve`: it sets no hyper timer, so a connection could take forever to send a
//! request head (slowloris) or sit idle between requests, holding one of the
//! `http.max_connections` slots each; a few thousand dribbling connections wedged the listener
//! for everyone. Why not hyper's own `header_read_timeout`: hyper starts that clock when an
//! HTTP/1.1 connection goes idle, so it cannot tell a slow head from an idle keep-alive
//! connection, and HTTP/2 has nothing like it. So each connection is watched here, as nginx
//! (`client_header_timeout`, `keepalive_timeout`) and Go (`ReadHeaderTimeout`, `IdleTimeout`) do:
//!
//! - **head** (`http.header_read_timeout_ms`): a connection's first request head must arrive
//!   within this long of the accept; a later one within this long of its first byte. Past it the
//!   connection is closed without an answer (the request never arrived). The bytes that tell
//!   HTTP/2 from HTTP/1.1 on a plain socket are part of the first head, so a client that
//!   connects and sends nothing is closed after this long too.
//! - **idle** (`http.idle_timeout_ms`): a connection with no request in flight (HTTP/1.1: the
//!   last response written and no byte of the next request yet; HTTP/2: no open stream) is
//!   closed gracefully after this long (HTTP/2: GOAWAY).
//! - **in flight**: no bound here: bodies have `http.body_read_timeout_ms` (408), long polls
//!   their `max_wait`, SSE streams send heartbeats. HTTP/2 pings idle peers so dead ones holding
//!   streams are noticed.
//!
//! The connection cap: a permit is taken *before* accepting, so at the cap the listener stops
//! accepting and new clients wait in the kernel's listen backlog instead of costing us memory
//! (the back-pressure tower's `ConcurrencyLimit` gives requests). The permit lives as long as
//! the connection's task. With the timeouts above a slot held by a client that sends nothing
//! is returned after the head timeout.
//!
//! Shutdown: stop accepting (the listening socket is closed), close connections with nothing
//! in flight at once, let in-flight requests finish (hyper's graceful shutdown: HTTP/1.1 closes
//! after the response, HTTP/2 says GOAWAY); long polls and SSE streams end on the same signal.
//! The caller bounds the drain: dropping the serve future aborts every connection task.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::serve::Listener;
use axum::Router;
use bytes::{Buf, Bytes, BytesMut};
use ferrite_config::HttpConfig;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::ServiceExt;

/// The HTTP/2 client connection preface (RFC 9113 §3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Read buffer for telling HTTP/2 from HTTP/1.1: one read usually holds a whole HTTP/1.1 head.
const SNIFF_BUFFER: usize = 1024;
/// HTTP/2 pings on an otherwise quiet connection, as on the gRPC listener: a dead peer holding
/// an SSE stream is noticed within interval + timeout.
const H2_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(60);
const H2_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);
/// A connection asked to close gracefully with nothing in flight (idle, or shutdown on HTTP/2)
/// gets this long to finish saying so (GOAWAY, a response still in the socket buffer); a peer
/// that never reads does not hold it open.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// How long connections may take, and how many may be open.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    /// `None`: no cap (the admin port: operators only).
    pub max_connections: Option<usize>,
}

impl ConnLimits {
    pub fn from_config(http: &HttpConfig, max_connections: Option<usize>) -> Self {
        Self {
            header_read_timeout: Duration::from_millis(http.header_read_timeout_ms.max(1)),
            idle_timeout: Duration::from_millis(http.idle_timeout_ms.max(1)),
            max_connections,
        }
    }
}

/// What an accepted connection's TLS handshake said about its protocol.
pub trait Negotiated {
    /// `Some(true)`: ALPN picked `h2`; `Some(false)`: another protocol (`http/1.1`);
    /// `None`: nothing negotiated (plain TCP, or a TLS client without ALPN).
    fn alpn_h2(&self) -> Option<bool>;
}

impl Negotiated for tokio::net::TcpStream {
    fn alpn_h2(&self) -> Option<bool> {
        None
    }
}

impl Negotiated for crate::tls::TlsConn {
    fn alpn_h2(&self) -> Option<bool> {
        self.alpn_protocol().map(|p| p == b"h2")
    }
}

/// Serve `app` on `listener` until `stop` turns true, then drain (see the module docs).
pub async fn serve<L>(mut listener: L, app: Router, limits: ConnLimits, stop: watch::Receiver<bool>)
where
    L: Listener,
    L::Io: Negotiated + AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let permits = limits
        .max_connections
        .map(|n| Arc::new(Semaphore::new(n.clamp(1, Semaphore::MAX_PERMITS))));
    let mut conns = JoinSet::new();
    let mut shutdown = pin!(stopped(stop.clone()));
    loop {
        // Both halves are cancel-safe (a semaphore wait, an accept), so losing the race to a
        // finished connection below loses nothing.
        let accept = async {
            let permit = match &permits {
                Some(p) => Some(
                    p.clone()
                        .acquire_owned()
                        .await
                        .expect("the connection semaphore is never closed"),
                ),
                None => None,
            };
            let (io, _) = listener.accept().await;
            (io, permit)
        };
        tokio::select! {
            _ = &mut shutdown => break,
            Some(done) = conns.join_next(), if !conns.is_empty() => log_panic(done),
            (io, permit) = accept => {
                conns.spawn(serve_conn(io, app.clone(), limits, stop.clone(), permit));
            }
        }
    }
    // Close the listening socket first: new clients are refused, not left in the backlog.
    drop(listener);
    while let Some(done) = conns.join_next().await {
        log_panic(done);
    }
}

fn log_panic(done: Result<(), tokio::task::JoinError>) {
    if let Err(e) = done {
        if e.is_panic() {
            tracing::error!(error = %e, "HTTP connection task panicked");
        }
    }
}

/// Resolves once `stop` is (or turns) true, or its sender is gone.
async fn stopped(mut stop: watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// One connection, from accept to close. `_permit` is its slot under the cap.
async fn serve_conn<I>(
    mut io: I,
    app: Router,
    limits: ConnLimits,
    stop: watch::Receiver<bool>,
    _permit: Option<OwnedSemaphorePermit>,
) where
    I: Negotiated + AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let accepted = Instant::now();
    let mut shutdown = pin!(stopped(stop));
    let (h2, prefix) = match io.alpn_h2() {
        Some(h2) => (h2, Bytes::new()),
        // The first bytes decide; they are the start of the first request head, so they share
        // its deadline.
        None => tokio::select! {
            r = tokio::time::timeout_at(accepted + limits.header_read_timeout, sniff(&mut io)) => {
                match r {
                    Ok(Ok(v)) => v,
                    // Closed, broken or too slow before saying anything useful.
                    _ => return,
                }
            }
            _ = &mut shutdown => return,
        },
    };
    let activity = Arc::new(if h2 {
        Activity::new(Phase::Idle(Instant::now()), false)
    } else {
        Activity::new(Phase::Head(accepted), true)
    });
    let io = TokioIo::new(ConnIo {
        io,
        prefix,
        activity: activity.clone(),
    });
    let svc = {
        let activity = activity.clone();
        hyper::service::service_fn(move |req: hyper::Request<Incoming>| {
            let in_flight = activity.request_started();
            let call = app.clone().oneshot(req.map(Body::new));
            async move {
                let resp = call.await.unwrap_or_else(|e| match e {});
                Ok::<_, Infallible>(resp.map(|body| Tracked {
                    body,
                    _in_flight: in_flight,
                }))
            }
        })
    };
    if h2 {
        let conn = http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .keep_alive_interval(H2_KEEPALIVE_INTERVAL)
            .keep_alive_timeout(H2_KEEPALIVE_TIMEOUT)
            .serve_connection(io, svc);
        drive(
            pin!(conn),
            http2::Connection::graceful_shutdown,
            &activity,
            limits,
            shutdown,
            true,
        )
        .await;
    } else {
        // Our own head timeout replaces hyper's (which would also count idle time, see above).
        let conn = http1::Builder::new()
            .header_read_timeout(None)
            .serve_connection(io, svc);
        drive(
            pin!(conn),
            http1::Connection::graceful_shutdown,
            &activity,
            limits,
            shutdown,
            false,
        )
        .await;
    }
}

/// Run a hyper connection to its end, closing it on the watchdog's deadlines and on shutdown.
async fn drive<C, S>(
    mut conn: Pin<&mut C>,
    graceful: fn(Pin<&mut C>),
    activity: &Activity,
    limits: ConnLimits,
    mut shutdown: Pin<&mut S>,
    h2: bool,
) where
    C: Future<Output = hyper::Result<()>>,
    S: Future<Output = ()>,
{
    let mut stopping = false;
    // Set once the connection was asked to close with nothing in flight.
    let mut close_by: Option<Instant> = None;
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "HTTP connection ended with an error");
                }
                return;
            }
            _ = &mut shutdown, if !stopping => {
                stopping = true;
                if !activity.in_flight() {
                    // HTTP/1.1 with nothing in flight has nothing to finish (at most a head
                    // that is still arriving). HTTP/2 gets its GOAWAY, so a request the client
                    // just sent is refused rather than lost.
                    if !h2 {
                        return;
                    }
                    close_by = Some(Instant::now() + CLOSE_GRACE);
                }
                graceful(conn.as_mut());
            }
            why = activity.expired(limits), if close_by.is_none() => match why {
                // The request never arrived: nothing to answer.
                Expired::Head => return,
                Expired::Idle => {
                    graceful(conn.as_mut());
                    close_by = Some(Instant::now() + CLOSE_GRACE);
                }
            },
            _ = sleep_until_opt(close_by), if close_by.is_some() => {
                if !activity.in_flight() {
                    return;
                }
                // A stream opened as the GOAWAY went out: it finishes, then the watchdog again.
                close_by = None;
            }
        }
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Read until the bytes are, or cannot be, the HTTP/2 preface. Returns whether they are, and
/// what was read (to be replayed to hyper). EOF before deciding is an error.
async fn sniff<I: AsyncRead + Unpin>(io: &mut I) -> io::Result<(bool, Bytes)> {
    let mut buf = BytesMut::with_capacity(SNIFF_BUFFER);
    loop {
        if io.read_buf(&mut buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let n = buf.len().min(H2_PREFACE.len());
        if buf[..n] != H2_PREFACE[..n] {
            return Ok((false, buf.freeze()));
        }
        if n == H2_PREFACE.len() {
            return Ok((true, buf.freeze()));
        }
    }
}

/// Where a connection is, for the watchdog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for a request head since then (the accept, or its first byte).
    Head(Instant),
    /// Nothing in flight since then.
    Idle(Instant),
    /// Requests in flight.
    Busy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expired {
    Head,
    Idle,
}

struct State {
    in_flight: usize,
    phase: Phase,
}

/// One connection's request activity, shared by its I/O (bytes moving), its service (requests
/// starting and their responses ending) and its watchdog. Costs a few uncontended lock
/// round-trips per request: HTTP requests are not the zero-allocation path.
struct Activity {
    state: Mutex<State>,
    /// HTTP/1.1 and `Phase::Idle`: what the I/O hooks check before taking the lock.
    idle_h1: AtomicBool,
    /// HTTP/1.1: a byte read while idle starts a head; HTTP/2 reads pings and window updates
    /// all the time, and only streams count.
    h1: bool,
    /// A phase moved to an earlier deadline, or to one after `Busy`.
    changed: Notify,
}

impl Activity {
    fn new(phase: Phase, h1: bool) -> Self {
        Self {
            state: Mutex::new(State {
                in_flight: 0,
                phase,
            }),
            idle_h1: AtomicBool::new(h1 && matches!(phase, Phase::Idle(_))),
            h1,
            changed: Notify::new(),
        }
    }

    fn in_flight(&self) -> bool {
        self.state.lock().in_flight > 0
    }

    fn request_started(self: &Arc<Self>) -> InFlight {
        let mut s = self.state.lock();
        s.in_flight += 1;
        s.phase = Phase::Busy;
        self.idle_h1.store(false, Ordering::Relaxed);
        // No wake-up: the watchdog finds out at its (now stale) deadline.
        InFlight(self.clone())
    }

    fn request_ended(&self) {
        let mut s = self.state.lock();
        s.in_flight -= 1;
        if s.in_flight == 0 {
            s.phase = Phase::Idle(Instant::now());
            self.idle_h1.store(self.h1, Ordering::Relaxed);
            drop(s);
            self.changed.notify_one();
        }
    }

    /// HTTP/1.1 read bytes: while idle, the first one starts the next head.
    fn on_read(&self) {
        if self.idle_h1.load(Ordering::Relaxed) {
            let mut s = self.state.lock();
            if matches!(s.phase, Phase::Idle(_)) {
                s.phase = Phase::Head(Instant::now());
                self.idle_h1.store(false, Ordering::Relaxed);
                drop(s);
                self.changed.notify_one();
            }
        }
    }

    /// HTTP/1.1 wrote bytes: while idle, that is the last response still going out (hyper
    /// ends the body once it is queued, and a large one can take a slow link a while), so the
    /// idle clock restarts.
    fn on_write(&self) {
        if self.idle_h1.load(Ordering::Relaxed) {
            let mut s = self.state.lock();
            if matches!(s.phase, Phase::Idle(_)) {
                s.phase = Phase::Idle(Instant::now());
            }
        }
    }

    /// Resolves when the connection has been in `Head` or `Idle` past its limit.
    async fn expired(&self, limits: ConnLimits) -> Expired {
        loop {
            // Created before the state is read: `notify_one` keeps a permit for a waiter that
            // is not waiting yet, so a change in between is not missed.
            let changed = self.changed.notified();
            let phase = self.state.lock().phase;
            let (deadline, why) = match phase {
                Phase::Head(t) => (t + limits.header_read_timeout, Expired::Head),
                Phase::Idle(t) => (t + limits.idle_timeout, Expired::Idle),
                Phase::Busy => {
                    changed.await;
                    continue;
                }
            };
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {
                    if self.state.lock().phase == phase {
                        return why;
                    }
                }
                _ = changed => {}
            }
        }
    }
}

/// A request in flight: from the service call until its response body is done or dropped.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_ended();
    }
}

/// A response body that keeps its request in flight until hyper is done with it (an SSE
/// stream or a long poll is in flight for as long as it is open).
struct Tracked {
    body: Body,
    _in_flight: InFlight,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A connection's I/O: first the bytes read while telling the protocols apart, then the
/// socket; reads and writes report to the watchdog.
struct ConnIo<T> {
    io: T,
    prefix: Bytes,
    activity: Arc<Activity>,
}

impl<T: AsyncRead + Unpin> AsyncRead for ConnIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        if self.activity.h1 && buf.filled().len() > before {
            self.activity.on_read();
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> ConnIo<T> {
    fn wrote(&self, r: &Poll<io::Result<usize>>) {
        if self.activity.h1 && matches!(r, Poll::Ready(Ok(n)) if *n > 0) {
            self.activity.on_write();
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ConnIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        self.wrote(&r);
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.wrote(&r);
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sniff_tells_http2_from_http1_and_keeps_the_bytes() {
        let (mut a, mut b) = tokio::io::duplex(64);
        tokio::io::AsyncWriteExt::write_all(&mut b, b"GET / HTTP/1.1\r\n")
            .await
            .unwrap();
        let (h2, got) = sniff(&mut a).await.unwrap();
        assert!(!h2);
        assert_eq!(&got[..], b"GET / HTTP/1.1\r\n");

        // The preface split over reads is still HTTP/2.
        let (mut a, mut b) = tokio::io::duplex(64);
        let t = tokio::spawn(async move {
            for chunk in H2_PREFACE.chunks(5) {
                tokio::io::AsyncWriteExt::write_all(&mut b, chunk)
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            b
        });
        let (h2, got) = sniff(&mut a).await.unwrap();
        assert!(h2);
        assert_eq!(&got[..], H2_PREFACE);
        drop(t.await.unwrap());

        // A prefix of the preface that diverges is HTTP/1.1 (a method starting with "PR").
        let (mut a, mut b) = tokio::io::duplex(64);
        tokio::io::AsyncWriteExt::write_all(&mut b, b"PROPFIND")
            .await
            .unwrap();
        assert!(!sniff(&mut a).await.unwrap().0);

        // EOF before deciding.
        let (mut a, b) = tokio::io::duplex(64);
        drop(b);
        assert!(sniff(&mut a).await.is_err());
    }

    /// Real time (tokio's paused clock needs its `test-util` feature, which the rest of the
    /// build does not): deadlines of 100 ms and 600 ms, each met no earlier and at most 200 ms later (a
    /// loaded machine), which still tells them apart.
    #[tokio::test]
    async fn the_watchdog_follows_the_phases() {
        const MS: Duration = Duration::from_millis(1);
        let limits = ConnLimits {
            header_read_timeout: 100 * MS,
            idle_timeout: 600 * MS,
            max_connections: None,
        };
        let near = |took: Duration, want: Duration| {
            assert!(
                took >= want && took < want + 200 * MS,
                "took {took:?}, want {want:?}"
            );
        };
        // A first head that never arrives: closed one head timeout after the accept.
        let t0 = Instant::now();
        let a = Arc::new(Activity::new(Phase::Head(t0), true));
        assert_eq!(a.expired(limits).await, Expired::Head);
        near(t0.elapsed(), 100 * MS);

        // A request in flight is never expired; when it ends, the idle clock starts; the first
        // byte of the next head starts the head clock.
        let a = Arc::new(Activity::new(Phase::Head(Instant::now()), true));
        let req = a.request_started();
        let watch = tokio::spawn({
            let a = a.clone();
            async move { a.expired(limits).await }
        });
        tokio::time::sleep(500 * MS).await;
        assert!(!watch.is_finished());
        drop(req);
        tokio::time::sleep(300 * MS).await;
        assert!(
            !watch.is_finished(),
            "idle is 300 ms, not the head's 100 ms"
        );
        a.on_read();
        let byte = Instant::now();
        assert_eq!(watch.await.unwrap(), Expired::Head);
        near(byte.elapsed(), 100 * MS);

        // Idle with nothing arriving: the idle timeout after the response; writes while idle
        // (the response still going out) restart that clock.
        let a = Arc::new(Activity::new(Phase::Head(Instant::now()), true));
        drop(a.request_started());
        tokio::time::sleep(200 * MS).await;
        a.on_write();
        let wrote = Instant::now();
        assert_eq!(a.expired(limits).await, Expired::Idle);
        near(wrote.elapsed(), 600 * MS);

        // HTTP/2: reads do not start a head (pings, window updates); only streams count.
        let t0 = Instant::now();
        let a = Arc::new(Activity::new(Phase::Idle(t0), false));
        a.on_read();
        assert_eq!(a.expired(limits).await, Expired::Idle);
        near(t0.elapsed(), 600 * MS);
    }
}
