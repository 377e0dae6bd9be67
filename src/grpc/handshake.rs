//! Bounds on gRPC connections before their first call (issue 12, finding 7).
//!
//! tonic (hyper's HTTP/2 server) has no timeout on the HTTP/2 handshake, and its graceful
//! shutdown waits for every connection: one that never sent the client preface sat in hyper's
//! handshake and held the whole shutdown for `server.shutdown_grace_ms`; one that finished the
//! handshake but never reads waited for the ack of the GOAWAY ping just as long. tonic offers no
//! per-connection hook, so [`Guarded`] wraps each accepted connection's I/O and reads along the
//! first bytes (the preface, then frame headers, payloads skipped) until the first HEADERS frame,
//! i.e. the first call. Until then:
//!
//! - the preface and the client's first SETTINGS frame must arrive within
//!   `grpc.handshake_timeout_ms` of the accept (after TLS, if on; as Go's gRPC server bounds its
//!   handshake), or the connection reads EOF and is closed;
//! - on shutdown the connection reads EOF at once: it has no call to finish.
//!
//! After the first call the wrapper only forwards bytes (one branch per read). A connection that
//! finished its handshake and never starts a call stays open while it answers pings, as an idle
//! client's does (SDKs may connect eagerly and call much later).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::watch;
use tokio::time::Sleep;

/// The HTTP/2 client connection preface (RFC 9113 §3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const FRAME_HEADER: usize = 9;
const FRAME_HEADERS: u8 = 0x1;
const FRAME_SETTINGS: u8 = 0x4;

/// How far the client has come, read along the bytes it sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    /// This many preface bytes matched so far.
    Preface(usize),
    /// Reading frames: `have` bytes of the next frame header in `header`, or `skip` payload
    /// bytes of the current frame still to come; `settings` once the first SETTINGS frame is
    /// in whole, `in_settings` while its payload is being skipped.
    Frames {
        header: [u8; FRAME_HEADER],
        have: usize,
        skip: usize,
        settings: bool,
        in_settings: bool,
    },
    /// The first call began, or the bytes are not HTTP/2 (hyper refuses them itself).
    Called,
}

impl Progress {
    /// The preface and first SETTINGS frame are in.
    fn handshaken(&self) -> bool {
        match self {
            Progress::Preface(_) => false,
            Progress::Frames { settings, .. } => *settings,
            Progress::Called => true,
        }
    }

    fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match self {
                Progress::Preface(n) => {
                    let take = (PREFACE.len() - *n).min(bytes.len());
                    if bytes[..take] != PREFACE[*n..*n + take] {
                        *self = Progress::Called;
                        return;
                    }
                    *n += take;
                    bytes = &bytes[take..];
                    if *n == PREFACE.len() {
                        *self = Progress::Frames {
                            header: [0; FRAME_HEADER],
                            have: 0,
                            skip: 0,
                            settings: false,
                            in_settings: false,
                        };
                    }
                }
                Progress::Frames {
                    header,
                    have,
                    skip,
                    settings,
                    in_settings,
                } => {
                    if *skip > 0 {
                        let take = (*skip).min(bytes.len());
                        *skip -= take;
                        bytes = &bytes[take..];
                        if *skip == 0 && *in_settings {
                            *settings = true;
                            *in_settings = false;
                        }
                        continue;
                    }
                    let take = (FRAME_HEADER - *have).min(bytes.len());
                    header[*have..*have + take].copy_from_slice(&bytes[..take]);
                    *have += take;
                    bytes = &bytes[take..];
                    if *have < FRAME_HEADER {
                        return;
                    }
                    *have = 0;
                    let len = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
                    match header[3] {
                        FRAME_HEADERS => {
                            *self = Progress::Called;
                            return;
                        }
                        FRAME_SETTINGS if !*settings => {
                            *settings = len == 0;
                            *in_settings = len > 0;
                        }
                        // The first frame must be SETTINGS (RFC 9113 §3.4): hyper will refuse
                        // this connection; nothing more to watch.
                        _ if !*settings => {
                            *self = Progress::Called;
                            return;
                        }
                        _ => {}
                    }
                    *skip = len;
                }
                Progress::Called => return,
            }
        }
    }
}

/// An accepted gRPC connection's I/O, watched until its first call (see the module docs).
pub struct Guarded<T> {
    io: T,
    progress: Progress,
    /// Until handshaken.
    deadline: Option<Pin<Box<Sleep>>>,
    /// Until the first call.
    shutdown: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    /// Reads EOF from now on.
    cut: bool,
}

impl<T> Guarded<T> {
    pub fn new(io: T, handshake_timeout: Duration, mut stop: watch::Receiver<bool>) -> Self {
        Self {
            io,
            progress: Progress::Preface(0),
            deadline: Some(Box::pin(tokio::time::sleep(handshake_timeout))),
            shutdown: Some(Box::pin(async move {
                while !*stop.borrow_and_update() {
                    if stop.changed().await.is_err() {
                        return;
                    }
                }
            })),
            cut: false,
        }
    }
}

/// Wrap each connection an incoming stream yields (`incoming.map(guard(..))`).
pub fn guard<T>(
    handshake_timeout: Duration,
    stop: watch::Receiver<bool>,
) -> impl FnMut(io::Result<T>) -> io::Result<Guarded<T>> {
    move |r| r.map(|io| Guarded::new(io, handshake_timeout, stop.clone()))
}

impl<T: AsyncRead + Unpin> AsyncRead for Guarded<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = &mut *self;
        if me.cut {
            return Poll::Ready(Ok(()));
        }
        // Polled from here so that they wake the connection's task: hyper keeps a read
        // pending whenever it waits for the client.
        if let Some(d) = &mut me.deadline {
            if d.as_mut().poll(cx).is_ready() {
                tracing::debug!(
                    progress = ?me.progress,
                    "gRPC connection did not finish its HTTP/2 handshake in time; closing"
                );
                me.cut = true;
                return Poll::Ready(Ok(()));
            }
        }
        if let Some(s) = &mut me.shutdown {
            if s.as_mut().poll(cx).is_ready() {
                tracing::debug!("gRPC connection without a call closed for shutdown");
                me.cut = true;
                return Poll::Ready(Ok(()));
            }
        }
        let before = buf.filled().len();
        let r = Pin::new(&mut me.io).poll_read(cx, buf);
        if me.progress != Progress::Called && buf.filled().len() > before {
            me.progress.feed(&buf.filled()[before..]);
            if me.progress.handshaken() {
                me.deadline = None;
            }
            if me.progress == Progress::Called {
                me.shutdown = None;
            }
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Guarded<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
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

/// Handlers see the wrapped connection's connect info (`Request::remote_addr`).
impl<T: tonic::transport::server::Connected> tonic::transport::server::Connected for Guarded<T> {
    type ConnectInfo = T::ConnectInfo;
    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let len = (payload.len() as u32).to_be_bytes();
        let mut f = vec![len[1], len[2], len[3], kind, flags];
        f.extend_from_slice(&stream.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn progress_follows_the_handshake_to_the_first_call_however_it_is_split() {
        let mut bytes = PREFACE.to_vec();
        // SETTINGS with one setting (6 bytes), a PING, a WINDOW_UPDATE, then HEADERS.
        bytes.extend(frame(FRAME_SETTINGS, 0, 0, &[0, 3, 0, 0, 0, 100]));
        let handshake_end = bytes.len();
        bytes.extend(frame(0x6, 0, 0, &[0; 8]));
        bytes.extend(frame(0x8, 0, 0, &[0, 0, 1, 0]));
        let call_at = bytes.len();
        bytes.extend(frame(FRAME_HEADERS, 0x4, 1, &[0x82, 0x86]));
        for chunk in [1, 2, 5, 9, 10, 64, bytes.len()] {
            let mut p = Progress::Preface(0);
            let mut fed = 0;
            for c in bytes.chunks(chunk) {
                assert_eq!(
                    p.handshaken(),
                    fed >= handshake_end,
                    "chunk {chunk}, fed {fed}"
                );
                // Called only once the HEADERS frame's header is in.
                assert_eq!(p == Progress::Called, fed >= call_at + FRAME_HEADER);
                p.feed(c);
                fed += c.len();
            }
            assert_eq!(p, Progress::Called, "chunk {chunk}");
        }
    }

    #[test]
    fn not_http2_is_left_to_hyper() {
        let mut p = Progress::Preface(0);
        p.feed(b"GET / HTTP/1.1\r\n");
        assert_eq!(p, Progress::Called);
        // A first frame other than SETTINGS.
        let mut p = Progress::Preface(0);
        p.feed(PREFACE);
        p.feed(&frame(0x6, 0, 0, &[0; 8]));
        assert_eq!(p, Progress::Called);
    }
}
