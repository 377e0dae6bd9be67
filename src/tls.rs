//! TLS for every listener: one rustls server configuration (from PEM files, or a certificate
//! generated at start), handshakes with a timeout off the accept loops, and the stream type every
//! front end serves over.
//!
//! The API, for any listener (see docs/tls.md):
//! - [`ServerTls::from_config`] builds it once at start-up (`None` when `[tls]` is off).
//! - [`ServerTls::handshake`] turns one accepted `TcpStream` into a [`TlsConn`] (or `None`:
//!   failed / timed out, logged at debug and counted in [`TlsStats`]). Call it in the
//!   connection's own task, never in the accept loop, so a slow handshaker delays nobody.
//! - [`ServerTls::listener`] wraps a `TcpListener` into a [`TlsListener`]: it accepts and
//!   handshakes in background tasks and yields finished connections, both as
//!   [`TlsListener::accept`] and as a `Stream` (what tonic's `serve_with_incoming*` and hyper
//!   accept loops take).
//!
//! Why two ALPN variants of one configuration: HTTP/2 clients (gRPC) require the server to pick
//! `h2` by ALPN, so [`Alpn::Http`] offers `h2` and `http/1.1`. The RESP listener uses
//! [`Alpn::None`]: a rustls server that offers protocols rejects a client whose ALPN list shares
//! none of them, and Redis clients may offer their own names.

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::{bail, Context as _};
use ferrite_config::TlsConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio_rustls::TlsAcceptor;

/// Default of the handshakes one [`TlsListener`] runs at once (`tls.max_pending_handshakes`).
/// Each costs a task and rustls' buffers until it finishes or times out. At the cap the listener
/// keeps accepting and drops the OLDEST pending handshake: stopping accepting instead let 1,100
/// idle connections that never sent a ClientHello delay every new client until they timed out,
/// while a real client finishes its handshake in milliseconds, long before it is the oldest.
pub const MAX_PENDING_HANDSHAKES: usize = ferrite_config::DEFAULT_TLS_MAX_PENDING_HANDSHAKES;
/// Finished connections a [`TlsListener`] holds for its server to pick up.
const READY_QUEUE: usize = 128;

/// Which ALPN protocols a listener offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alpn {
    /// None: raw stream protocols (RESP).
    None,
    /// `h2` then `http/1.1`: gRPC and the HTTP API.
    Http,
}

/// Handshake outcomes across every TLS listener (relaxed atomics: once per connection).
#[derive(Default, Debug)]
pub struct TlsStats {
    pub handshakes: AtomicU64,
    pub handshake_failures: AtomicU64,
    pub handshake_timeouts: AtomicU64,
    /// Pending handshakes dropped to make room for newer ones (the cap was reached).
    pub handshakes_evicted: AtomicU64,
}

impl TlsStats {
    pub fn handshakes(&self) -> u64 {
        self.handshakes.load(Ordering::Relaxed)
    }
    pub fn handshake_failures(&self) -> u64 {
        self.handshake_failures.load(Ordering::Relaxed)
    }
    pub fn handshake_timeouts(&self) -> u64 {
        self.handshake_timeouts.load(Ordering::Relaxed)
    }
    pub fn handshakes_evicted(&self) -> u64 {
        self.handshakes_evicted.load(Ordering::Relaxed)
    }
}

/// The server's TLS identity and settings, shared by every TLS listener.
pub struct ServerTls {
    stream_acceptor: TlsAcceptor,
    http_acceptor: TlsAcceptor,
    handshake_timeout: Duration,
    max_pending: usize,
    stats: TlsStats,
    /// SHA-256 of the leaf certificate, `AB:CD:...` (as `openssl x509 -fingerprint -sha256`).
    fingerprint: String,
    /// The generated certificate's PEM when `self_signed` (what clients must trust).
    self_signed_pem: Option<String>,
}

impl ServerTls {
    /// Build the TLS configuration from `[tls]`, or `None` when TLS is off. `bind` is
    /// `server.bind`, added to a generated certificate's names. Errors (unreadable or empty PEM,
    /// a key that does not match the certificate, an unwritable `self_signed_cert_out`) stop
    /// the start with a message naming the file.
    pub fn from_config(cfg: &TlsConfig, bind: &str) -> anyhow::Result<Option<Arc<ServerTls>>> {
        if !cfg.enabled() {
            return Ok(None);
        }
        let (chain, key, self_signed_pem) = if cfg.self_signed {
            let (chain, key, pem) = generate_self_signed(bind)?;
            (chain, key, Some(pem))
        } else {
            let (chain, key) = load_pem(cfg.cert_file.trim(), cfg.key_file.trim())?;
            (chain, key, None)
        };
        let fingerprint = sha256_fingerprint(&chain[0]);
        let stream_config = build_server_config(chain, key).with_context(|| {
            if cfg.self_signed {
                "tls: the generated certificate was rejected".to_string()
            } else {
                format!(
                    "tls: certificate {:?} and key {:?} cannot be used together",
                    cfg.cert_file, cfg.key_file
                )
            }
        })?;
        let mut http_config = stream_config.clone();
        http_config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];

        if let Some(pem) = &self_signed_pem {
            let out = cfg.self_signed_cert_out.trim();
            if out.is_empty() {
                tracing::info!(
                    sha256 = %fingerprint,
                    "TLS: self-signed certificate generated (not written: tls.self_signed_cert_out is empty)"
                );
            } else {
                std::fs::write(out, pem).with_context(|| {
                    format!("tls: writing the self-signed certificate to {out:?} (tls.self_signed_cert_out)")
                })?;
                tracing::info!(
                    sha256 = %fingerprint,
                    path = out,
                    "TLS: self-signed certificate generated; clients trust it with e.g. `redis-cli --tls --cacert {out}`"
                );
            }
        } else {
            tracing::info!(sha256 = %fingerprint, cert = %cfg.cert_file, "TLS: certificate loaded");
        }

        Ok(Some(Arc::new(ServerTls {
            stream_acceptor: TlsAcceptor::from(Arc::new(stream_config)),
            http_acceptor: TlsAcceptor::from(Arc::new(http_config)),
            handshake_timeout: Duration::from_millis(cfg.handshake_timeout_ms),
            max_pending: cfg.max_pending_handshakes.max(1),
            stats: TlsStats::default(),
            fingerprint,
            self_signed_pem,
        })))
    }

    /// The acceptor for a listener's ALPN variant (for callers that run their own handshake).
    pub fn acceptor(&self, alpn: Alpn) -> &TlsAcceptor {
        match alpn {
            Alpn::None => &self.stream_acceptor,
            Alpn::Http => &self.http_acceptor,
        }
    }

    pub fn stats(&self) -> &TlsStats {
        &self.stats
    }

    /// SHA-256 fingerprint of the served certificate, `AB:CD:...`.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The generated certificate's PEM (only with `self_signed`).
    pub fn self_signed_pem(&self) -> Option<&str> {
        self.self_signed_pem.as_deref()
    }

    /// Run the server side of a TLS handshake on an accepted connection, bounded by
    /// `tls.handshake_timeout_ms`. A failure (a plaintext client, an untrusted certificate on
    /// the client's side, garbage) or a timeout is logged at debug, counted, and gives `None`;
    /// the connection is then closed by dropping it.
    pub async fn handshake(&self, tcp: TcpStream, alpn: Alpn, listener: &str) -> Option<TlsConn> {
        let peer = tcp.peer_addr().ok();
        let local = tcp.local_addr().ok();
        match tokio::time::timeout(self.handshake_timeout, self.acceptor(alpn).accept(tcp)).await {
            Ok(Ok(inner)) => {
                self.stats.handshakes.fetch_add(1, Ordering::Relaxed);
                Some(TlsConn { inner, peer, local })
            }
            Ok(Err(e)) => {
                self.stats
                    .handshake_failures
                    .fetch_add(1, Ordering::Relaxed);
                tracing::debug!(listener, ?peer, error = %e, "TLS handshake failed");
                None
            }
            Err(_) => {
                self.stats
                    .handshake_timeouts
                    .fetch_add(1, Ordering::Relaxed);
                tracing::debug!(listener, ?peer, "TLS handshake timed out");
                None
            }
        }
    }

    /// Serve TLS on `listener`: accepting and handshaking run in background tasks (at most
    /// [`MAX_PENDING_HANDSHAKES`] handshakes at once); finished connections come out of the
    /// returned [`TlsListener`]. Dropping it closes the listening socket.
    pub fn listener(
        self: &Arc<Self>,
        listener: TcpListener,
        alpn: Alpn,
        name: &'static str,
    ) -> TlsListener {
        let local_addr = listener.local_addr().ok();
        let (tx, rx) = mpsc::channel(READY_QUEUE);
        let task = tokio::spawn(accept_and_handshake(self.clone(), listener, alpn, name, tx));
        TlsListener {
            rx,
            task,
            local_addr,
        }
    }
}

/// The accept loop behind a [`TlsListener`]: ends when the listener is dropped.
async fn accept_and_handshake(
    tls: Arc<ServerTls>,
    listener: TcpListener,
    alpn: Alpn,
    name: &'static str,
    ready: mpsc::Sender<TlsConn>,
) {
    // Pending handshakes, oldest first: each holds the sender whose drop (or send) cancels it.
    // Finished ones are noticed lazily (their receiver is gone) and pruned.
    let mut pending: VecDeque<oneshot::Sender<()>> = VecDeque::new();
    let live = Arc::new(AtomicUsize::new(0));
    loop {
        let accepted = tokio::select! {
            _ = ready.closed() => return,
            r = listener.accept() => r,
        };
        let tcp = match accepted {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(listener = name, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        // At the cap: drop the oldest handshake still pending, rather than stop accepting.
        while live.load(Ordering::Relaxed) >= tls.max_pending {
            let Some(oldest) = pending.pop_front() else {
                break;
            };
            if !oldest.is_closed() && oldest.send(()).is_ok() {
                tls.stats.handshakes_evicted.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(listener = name, "dropped the oldest pending TLS handshake");
                // Counted down by its task as it ends; don't wait for that.
                break;
            }
        }
        if pending.len() >= 2 * tls.max_pending {
            pending.retain(|p| !p.is_closed());
        }
        let (cancel_tx, cancel_rx) = oneshot::channel();
        pending.push_back(cancel_tx);
        live.fetch_add(1, Ordering::Relaxed);
        let live = live.clone();
        let tls = tls.clone();
        let ready = ready.clone();
        tokio::spawn(async move {
            let conn = tokio::select! {
                c = tls.handshake(tcp, alpn, name) => c,
                _ = cancel_rx => None,
            };
            live.fetch_sub(1, Ordering::Relaxed);
            if let Some(conn) = conn {
                // Err only when the server stopped listening: the connection is dropped.
                let _ = ready.send(conn).await;
            }
        });
    }
}

/// A TLS listening socket: yields connections whose handshake finished.
pub struct TlsListener {
    rx: mpsc::Receiver<TlsConn>,
    task: tokio::task::JoinHandle<()>,
    local_addr: Option<SocketAddr>,
}

impl TlsListener {
    /// The next connection ready to serve; `None` once the accept task is gone.
    pub async fn accept(&mut self) -> Option<TlsConn> {
        self.rx.recv().await
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The shape tonic's `serve_with_incoming*` (and hyper accept loops) take.
impl tokio_stream::Stream for TlsListener {
    type Item = io::Result<TlsConn>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx).map(|c| c.map(Ok))
    }
}

/// The accept side of the HTTP API's and admin port's serve loop (`crate::http::conn`, on
/// axum's `Listener` trait): HTTP/1.1, or HTTP/2 when the client picked `h2` by ALPN.
impl axum::serve::Listener for TlsListener {
    type Io = TlsConn;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(conn) => {
                let peer = conn
                    .peer
                    .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
                (conn, peer)
            }
            // The accept task ended (only when the listener is being dropped): accept nothing
            // more; the serve loop ends on its shutdown signal.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.local_addr
            .ok_or_else(|| io::Error::other("TLS listener has no local address"))
    }
}

/// A server-side TLS connection over TCP. Reads and writes decrypt/encrypt through rustls;
/// the peer and local addresses are kept so front ends see them as on a plain socket.
pub struct TlsConn {
    inner: tokio_rustls::server::TlsStream<TcpStream>,
    peer: Option<SocketAddr>,
    local: Option<SocketAddr>,
}

impl TlsConn {
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local
    }
    /// The ALPN protocol agreed in the handshake (`h2`, `http/1.1`), if any.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.inner.get_ref().1.alpn_protocol()
    }
    /// The SNI name the client asked for, if any.
    pub fn server_name(&self) -> Option<&str> {
        self.inner.get_ref().1.server_name()
    }
}

impl AsyncRead for TlsConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// gRPC handlers see the same connect info (`Request::remote_addr`) as on a plain socket.
impl tonic::transport::server::Connected for TlsConn {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;
    fn connect_info(&self) -> Self::ConnectInfo {
        tonic::transport::server::TcpConnectInfo {
            local_addr: self.local,
            remote_addr: self.peer,
        }
    }
}

/// One rustls server configuration on the ring provider (named explicitly: with both ring and
/// aws-lc-rs compiled into the process, rustls cannot pick a default by itself).
fn build_server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> anyhow::Result<ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    Ok(config)
}

/// Read a PEM certificate chain (leaf first) and its private key (PKCS#8, PKCS#1 or SEC1).
fn load_pem(
    cert_file: &str,
    key_file: &str,
) -> anyhow::Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let chain = CertificateDer::pem_file_iter(cert_file)
        .with_context(|| format!("tls: cannot read certificate file {cert_file:?}"))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("tls: bad PEM in certificate file {cert_file:?}"))?;
    if chain.is_empty() {
        bail!("tls: no CERTIFICATE block in {cert_file:?} (tls.cert_file must be PEM)");
    }
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => anyhow::anyhow!(
            "tls: no private key in {key_file:?} (tls.key_file must hold a PEM PRIVATE KEY, \
             RSA PRIVATE KEY or EC PRIVATE KEY block)"
        ),
        other => anyhow::anyhow!("tls: cannot read private key file {key_file:?}: {other}"),
    })?;
    Ok((chain, key))
}

/// A certificate for this machine, valid for localhost, 127.0.0.1, ::1 and the bind address
/// (or, when bound to all interfaces, the host name). Returns chain, key and the PEM to trust.
fn generate_self_signed(
    bind: &str,
) -> anyhow::Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>, String)> {
    let names = self_signed_names(bind);
    let mut params = rcgen::CertificateParams::new(names)
        .context("tls: building the self-signed certificate's names")?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Ferrite self-signed");
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "Ferrite");
    let key = rcgen::KeyPair::generate().context("tls: generating a key pair")?;
    let cert = params
        .self_signed(&key)
        .context("tls: signing the self-signed certificate")?;
    let pem = cert.pem();
    let key_der = PrivateKeyDer::Pkcs8(key.serialize_der().into());
    Ok((vec![cert.der().clone()], key_der, pem))
}

/// Subject alternative names for a generated certificate.
fn self_signed_names(bind: &str) -> Vec<String> {
    let mut names: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    match bind.trim().parse::<IpAddr>() {
        Ok(ip) if ip.is_unspecified() => {
            if let Some(host) = host_name() {
                names.push(host);
            }
        }
        Ok(ip) => names.push(ip.to_string()),
        Err(_) => {}
    }
    names.sort();
    names.dedup();
    names
}

/// This machine's host name, if it is a usable DNS name.
fn host_name() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into a buffer we own.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = std::str::from_utf8(&buf[..end]).ok()?.trim().to_string();
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    valid.then_some(name)
}

/// `AB:CD:...` upper-case hex SHA-256 of a DER certificate.
fn sha256_fingerprint(cert: &CertificateDer<'_>) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, cert.as_ref());
    digest
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cover_loopback_and_the_bind_address() {
        let n = self_signed_names("10.1.2.3");
        for want in ["localhost", "127.0.0.1", "::1", "10.1.2.3"] {
            assert!(n.iter().any(|x| x == want), "{want} missing from {n:?}");
        }
        // Loopback binds add nothing new.
        assert_eq!(self_signed_names("127.0.0.1").len(), 3);
    }

    #[test]
    fn fingerprint_is_sha256_in_openssl_form() {
        let f = sha256_fingerprint(&CertificateDer::from(b"abc".to_vec()));
        // SHA-256("abc") from FIPS 180-2.
        assert!(f.starts_with("BA:78:16:BF:8F:01:CF:EA"), "{f}");
        assert_eq!(f.len(), 32 * 3 - 1);
    }

    #[test]
    fn generated_certificate_builds_a_config() {
        let (chain, key, pem) = generate_self_signed("0.0.0.0").unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
        build_server_config(chain, key).unwrap();
    }
}
