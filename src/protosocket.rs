//! Momento's protosocket fast path: the `momento` SDK's `ProtosocketCacheClient` (Authenticate,
//! Get, Set, Delete) over length-delimited protobuf on TCP (`momento_protos::protosocket::cache`),
//! served with the `protosocket-rpc` server the SDK's client is built for.
//!
//! Why a second wire for three calls: gRPC's per-request cost (HTTP/2 framing, headers, a task
//! and a few allocations per call) dominates small operations; here a request is one protobuf
//! frame, answered on the connection's own task without a spawn (`Conn::new_rpc`).
//!
//! The rules are everyone's: a connection's first command must be Authenticate (its token goes
//! through `Service::caller`, as gRPC's `authorization` header and RESP's AUTH do); every command
//! after it is admitted by `Service::admit` (the token's permission on the key, the cache the
//! `namespace` names, the tenant's quota), runs the service's scalar operation (item size, TTL
//! bounds, eviction) and is metered by `Op::finish` with its protobuf sizes in and out. Refusals
//! are `CommandError`s with gRPC's code numbering (the SDK reads a miss as NOT_FOUND "Key not
//! found", as Momento answers it).
//!
//! Bounds: at most `limits.max_clients` connections (more are closed at accept); before a
//! connection has authenticated its frames may be at most [`MAX_UNAUTHENTICATED_FRAME`] bytes
//! (a larger one closes it, so an unauthenticated client never makes the server buffer more
//! than a few KiB) and it must authenticate within `grpc.handshake_timeout_ms`; after, a frame
//! may be the item limit plus framing, and at most [`MAX_QUEUED_RESPONSES`] responses wait for
//! a slow reader. Connections end when the server shuts down.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use ferrite_service::{Caller, Counters, Need, ServiceError};
use futures_util::future::{BoxFuture, Either};
use momento_protos::protosocket::cache::cache_command::RpcKind as CommandKind;
use momento_protos::protosocket::cache::cache_response::Kind;
use momento_protos::protosocket::cache::unary::Command;
use momento_protos::protosocket::cache::*;
use momento_protos::protosocket::common::{CommandError, Status};
use protosocket::{Decoder, DeserializeError, PooledEncoder, SocketListener, SocketResult};
use protosocket_prost::{ProstDecoder, ProstSerializer};
use protosocket_rpc::server::{ConnectionService, RpcKind, SocketRpcServer, SocketService};
use protosocket_rpc::ProtosocketControlCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use ferrite_auth::CacheAccess;

use crate::shared::Shared;

/// Largest frame a connection may send before it has authenticated (an Authenticate command
/// carries a token: a JWT of a few hundred bytes).
pub const MAX_UNAUTHENTICATED_FRAME: usize = 4096;
/// Frame bytes beyond the item limit a Set may carry (namespace, key, field tags).
const FRAMING_BYTES: usize = 64 * 1024;
/// Responses waiting for a slow reader before the connection stops reading requests.
pub const MAX_QUEUED_RESPONSES: usize = 64;
/// The receive buffer grows by this much at a time.
const BUFFER_INCREMENT: usize = 4096;

/// Bind the protosocket listener (`bind:port`, port 0 = a free port).
pub async fn bind(
    bind: &str,
    port: u16,
    backlog: u32,
) -> anyhow::Result<(TcpListener, SocketAddr)> {
    crate::net::bind_listener("protosocket", bind, port, backlog).await
}

/// Serve protosocket on `listener` until shutdown.
pub async fn serve(shared: Arc<Shared>, listener: TcpListener) {
    let (max_clients, max_frame, handshake) = {
        let c = shared.config.read();
        (
            c.limits.max_clients,
            c.grpc.max_item_bytes as usize + FRAMING_BYTES,
            Duration::from_millis(c.grpc.handshake_timeout_ms),
        )
    };
    let service = Service {
        shared: shared.clone(),
        pending: None,
        handshake,
    };
    let listener = Listener {
        inner: listener,
        open: Arc::new(AtomicUsize::new(0)),
        max: max_clients,
    };
    let server = match SocketRpcServer::new(
        listener,
        service,
        max_frame,
        BUFFER_INCREMENT,
        MAX_QUEUED_RESPONSES,
    ) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("protosocket server did not start: {e:?}");
            return;
        }
    };
    let mut stop = shared.shutdown.subscribe();
    tokio::select! {
        r = server => if let Err(e) = r { tracing::error!("protosocket listener failed: {e}") },
        _ = stop.wait_for(|s| *s) => {},
    }
    tracing::info!("protosocket listener closed for shutdown");
}

/// The accept side: counts open connections and closes those over the cap at once.
struct Listener {
    inner: TcpListener,
    open: Arc<AtomicUsize>,
    max: usize,
}

impl SocketListener for Listener {
    type Stream = Counted;

    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<SocketResult<Counted>> {
        loop {
            match self.inner.poll_accept(cx) {
                Poll::Ready(Ok((stream, peer))) => {
                    if self.open.load(Ordering::Relaxed) >= self.max {
                        tracing::debug!(%peer, "protosocket connection refused: at limits.max_clients");
                        drop(stream);
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    self.open.fetch_add(1, Ordering::Relaxed);
                    return Poll::Ready(SocketResult::Stream(Counted {
                        stream,
                        open: self.open.clone(),
                    }));
                }
                Poll::Ready(Err(e)) => {
                    // Out of descriptors and the like: not the listener's end. Try again soon
                    // rather than spinning on the same error.
                    tracing::warn!("protosocket accept failed: {e}");
                    let waker = cx.waker().clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        waker.wake();
                    });
                    return Poll::Pending;
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// A connection's socket; leaving the open count when it is dropped.
struct Counted {
    stream: TcpStream,
    open: Arc<AtomicUsize>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// What a connection's decoder and its service share: whether it has authenticated.
#[derive(Default)]
struct ConnState {
    authenticated: AtomicBool,
}

/// Decodes `CacheCommand` frames, refusing (closing the connection on) a frame over the
/// unauthenticated limit until the connection has authenticated.
struct GuardedDecoder {
    inner: ProstDecoder<CacheCommand>,
    state: Arc<ConnState>,
}

impl Decoder for GuardedDecoder {
    type Message = CacheCommand;

    fn decode(
        &mut self,
        buffer: impl bytes::Buf,
    ) -> Result<(usize, CacheCommand), DeserializeError> {
        if !self.state.authenticated.load(Ordering::Relaxed) {
            if let Ok(len) = prost::decode_length_delimiter(buffer.chunk()) {
                if len > MAX_UNAUTHENTICATED_FRAME {
                    tracing::debug!(
                        len,
                        "protosocket frame over the unauthenticated limit: closing"
                    );
                    return Err(DeserializeError::InvalidBuffer);
                }
            }
        }
        self.inner.decode(buffer)
    }
}

type Codec = (
    PooledEncoder<ProstSerializer<CacheResponse>>,
    GuardedDecoder,
);

/// The connection factory.
struct Service {
    shared: Arc<Shared>,
    /// The state of the connection `new_stream_service` made, for the `codec` call that
    /// `protosocket-rpc` makes right after it for the same connection.
    pending: Option<Arc<ConnState>>,
    handshake: Duration,
}

impl SocketService for Service {
    type ConnectionService = Conn;
    type SocketListener = Listener;

    fn codec(&mut self) -> Codec {
        let state = self.pending.take().unwrap_or_default();
        (
            PooledEncoder::default(),
            GuardedDecoder {
                inner: ProstDecoder::default(),
                state,
            },
        )
    }

    fn new_stream_service(&mut self, _stream: &Counted) -> Conn {
        let state = Arc::new(ConnState::default());
        self.pending = Some(state.clone());
        let mut stop = self.shared.shutdown.subscribe();
        Conn {
            shared: self.shared.clone(),
            state,
            caller: None,
            handshake: Some(Box::pin(tokio::time::sleep(self.handshake))),
            shutdown: Box::pin(async move {
                let _ = stop.wait_for(|s| *s).await;
            }),
        }
    }
}

/// One connection: its caller once authenticated.
struct Conn {
    shared: Arc<Shared>,
    state: Arc<ConnState>,
    caller: Option<Caller>,
    /// Until the first Authenticate: the connection is closed when this fires.
    handshake: Option<Pin<Box<tokio::time::Sleep>>>,
    shutdown: BoxFuture<'static, ()>,
}

type Unary = Either<std::future::Ready<CacheResponse>, BoxFuture<'static, CacheResponse>>;

fn answer(kind: Kind) -> CacheResponse {
    CacheResponse {
        message_id: 0,
        control_code: ProtosocketControlCode::Normal as u32,
        kind: Some(kind),
    }
}

fn error(code: Status, message: impl Into<String>) -> CacheResponse {
    answer(Kind::Error(CommandError {
        code: code as i32,
        message: message.into(),
    }))
}

/// A service refusal with gRPC's code (the same mapping as gRPC: `grpc::errors::status`).
fn refusal(e: ServiceError) -> CacheResponse {
    let s = crate::grpc::errors::status(e);
    let code = Status::try_from(s.code() as i32).unwrap_or(Status::Unknown);
    error(code, s.message())
}

impl Conn {
    /// Run a Get, Set or Delete: at once when no script holds a cache (the fast path: no
    /// allocation beyond the response), in a future that first waits for the script otherwise.
    fn run(&mut self, command: Command, bytes_in: usize) -> Unary {
        let Some(caller) = self.caller.clone() else {
            return Either::Left(std::future::ready(error(
                Status::Unauthenticated,
                "authenticate first: a connection's first command must be Authenticate",
            )));
        };
        if !self.shared.exclusive.any() {
            let r = match admit(&self.shared, &caller, &command) {
                Ok(op) => execute(op, &command, bytes_in),
                Err(r) => r,
            };
            return Either::Left(std::future::ready(r));
        }
        let shared = self.shared.clone();
        Either::Right(Box::pin(async move {
            let op = match admit(&shared, &caller, &command) {
                Ok(op) => op,
                Err(r) => return r,
            };
            if let Err(e) = shared.exclusive.wait_clear(op.cache()).await {
                op.finish(Counters::op(bytes_in as u64, 0));
                return refusal(e);
            }
            execute(op, &command, bytes_in)
        }))
    }
}

/// The namespace, key and access a command needs.
fn target(c: &Command) -> (&str, &[u8], CacheAccess) {
    match c {
        Command::Get(g) => (&g.namespace, &g.key, CacheAccess::Read),
        Command::Set(s) => (&s.namespace, &s.key, CacheAccess::Write),
        Command::Delete(d) => (&d.namespace, &d.key, CacheAccess::Write),
        Command::Auth(_) => ("", b"", CacheAccess::Read),
    }
}

/// Admission of one command: the caller's token still valid (expiry, revocation: a connection
/// outlives its Authenticate), then `Service::admit` (permission on the key, the namespace's
/// cache, the quota).
fn admit<'s>(
    shared: &'s Shared,
    caller: &Caller,
    command: &Command,
) -> Result<ferrite_service::Op<'s>, CacheResponse> {
    let (cache, key, access) = target(command);
    if shared.auth.enforcing() {
        shared.revalidate(caller).map_err(refusal)?;
    }
    shared
        .admit(caller, cache, Need::Key(access, key))
        .map_err(refusal)
}

/// Run an admitted Get, Set or Delete, metered with the frame's size in and the response's out.
fn execute(op: ferrite_service::Op<'_>, command: &Command, bytes_in: usize) -> CacheResponse {
    let response = match command {
        Command::Get(g) => match op.get(&g.key) {
            Ok(Some(v)) => answer(Kind::Get(GetResponse { value: v.to_vec() })),
            Ok(None) => error(Status::NotFound, "Key not found"),
            Err(e) => refusal(e),
        },
        Command::Set(s) => match op.set(&s.key, &s.value, s.ttl_milliseconds) {
            Ok(()) => answer(Kind::Set(SetResponse {})),
            Err(e) => refusal(e),
        },
        Command::Delete(d) => {
            op.delete(&d.key);
            answer(Kind::Delete(DeleteResponse {}))
        }
        Command::Auth(_) => error(
            Status::Internal,
            "Authenticate is answered by the connection",
        ),
    };
    let bytes_out = prost::Message::encoded_len(&response);
    op.finish(Counters::op(bytes_in as u64, bytes_out as u64));
    response
}

impl ConnectionService for Conn {
    type Codec = Codec;
    type Request = CacheCommand;
    type Response = CacheResponse;
    type UnaryFutureType = Unary;
    type StreamType = futures_util::stream::Empty<CacheResponse>;

    fn new_rpc(&mut self, message: CacheCommand) -> RpcKind<Unary, Self::StreamType> {
        let bytes_in = prost::Message::encoded_len(&message);
        let command = match message.rpc_kind {
            Some(CommandKind::Unary(momento_protos::protosocket::cache::Unary {
                command: Some(c),
            })) => c,
            _ => {
                return RpcKind::Unary(Either::Left(std::future::ready(error(
                    Status::InvalidArgument,
                    "a command must be a unary Authenticate, Get, Set or Delete",
                ))))
            }
        };
        if let Command::Auth(a) = &command {
            let r = match self.shared.caller(Some(&a.token)) {
                Ok(caller) => {
                    self.caller = Some(caller);
                    self.state.authenticated.store(true, Ordering::Relaxed);
                    self.handshake = None;
                    answer(Kind::Auth(AuthenticateResponse {}))
                }
                Err(e) => refusal(e),
            };
            return RpcKind::Unary(Either::Left(std::future::ready(r)));
        }
        RpcKind::Unary(self.run(command, bytes_in))
    }

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> std::ops::ControlFlow<()> {
        if self.shutdown.as_mut().poll(cx).is_ready() {
            return std::ops::ControlFlow::Break(());
        }
        if let Some(h) = self.handshake.as_mut() {
            if h.as_mut().poll(cx).is_ready() {
                tracing::debug!("protosocket connection closed: no Authenticate in time");
                return std::ops::ControlFlow::Break(());
            }
        }
        std::ops::ControlFlow::Continue(())
    }
}
