//! Binding listeners: every listener (RESP, gRPC, HTTP, admin) binds through [`bind`], so all
//! get the configured listen backlog (`server.tcp_backlog`, Redis's `tcp-backlog` 511) instead
//! of whatever the library picks (tokio's `TcpListener::bind`: 1024, silently).

use std::io;
use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket};

/// Bind `addr` (`host:port`, port 0 = a free port) with SO_REUSEADDR (as tokio and Redis do, so
/// a restart does not wait out TIME_WAIT) and a listen backlog of `backlog` (the kernel caps it
/// at `net.core.somaxconn`). Tries each address the name resolves to, like `TcpListener::bind`.
pub async fn bind(addr: &str, backlog: u32) -> io::Result<TcpListener> {
    let mut last = None;
    for a in tokio::net::lookup_host(addr).await? {
        match bind_one(a, backlog) {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolves to nothing",
        )
    }))
}

/// [`bind`] for a listener served by another runtime (the admin thread): resolves with the
/// standard library and hands back a std listener (non-blocking). Needs a tokio runtime context
/// while it runs (the socket is briefly registered with it).
pub fn bind_std(addr: &str, backlog: u32) -> io::Result<std::net::TcpListener> {
    use std::net::ToSocketAddrs;
    let mut last = None;
    for a in addr.to_socket_addrs()? {
        match bind_one(a, backlog).and_then(|l| l.into_std()) {
            Ok(l) => {
                l.set_nonblocking(true)?;
                return Ok(l);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolves to nothing",
        )
    }))
}

fn bind_one(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog.max(1))
}

/// Bind the `what` listener on `bind:port` (port 0 = a free port): the listener and the
/// address it got, or an error naming the listener and the address.
pub async fn bind_listener(
    what: &str,
    bind: &str,
    port: u16,
    backlog: u32,
) -> anyhow::Result<(TcpListener, SocketAddr)> {
    use anyhow::Context;
    let addr = format!("{bind}:{port}");
    let listener = self::bind(&addr, backlog)
        .await
        .with_context(|| format!("binding {what} listener on {addr}"))?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// The backlog is the one asked for: with nobody accepting, only about `backlog` connects
    /// complete (Linux queues backlog + 1); the rest wait for a SYN-ACK that does not come.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_listen_backlog_is_the_configured_one() {
        let l = bind("127.0.0.1:0", 2).await.unwrap();
        let addr = l.local_addr().unwrap();
        let mut tries = Vec::new();
        for _ in 0..12 {
            tries.push(tokio::spawn(async move {
                tokio::time::timeout(
                    Duration::from_millis(500),
                    tokio::net::TcpStream::connect(addr),
                )
                .await
                .ok()
                .and_then(|r| r.ok())
            }));
        }
        let mut open = Vec::new();
        for t in tries {
            if let Some(s) = t.await.unwrap() {
                open.push(s);
            }
        }
        assert!(
            (1..=4).contains(&open.len()),
            "{} of 12 connects completed with a backlog of 2",
            open.len()
        );
        drop(l);
    }
}
