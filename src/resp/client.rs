//! Per-connection facts that other connections can see (CLIENT LIST / KILL / INFO clients).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::Notify;

pub struct ClientInfo {
    pub id: u64,
    pub addr: SocketAddr,
    pub laddr: SocketAddr,
    pub created_ms: u64,
    pub name: Mutex<Option<Bytes>>,
    pub last_active_ms: AtomicU64,
    pub last_cmd: Mutex<&'static str>,
    pub resp: AtomicU8,
    pub subscriptions: AtomicUsize,
    pub psubscriptions: AtomicUsize,
    pub in_multi: AtomicBool,
    pub cache: Mutex<Arc<str>>,
    /// The database index SELECT chose (CLIENT LIST `db`).
    pub db: AtomicUsize,
    /// Set by CLIENT KILL / shutdown; the connection loop watches `kill_notify`.
    pub killed: AtomicBool,
    /// The connection has ended (set when it leaves the registry): a tracking client that
    /// redirects here is told `tracking-redir-broken`.
    pub gone: AtomicBool,
    pub kill_notify: Notify,
    /// Capacity of the connection's read buffer (CLIENT LIST `rbs`), updated once per batch.
    pub read_buf_bytes: AtomicU64,
    /// Capacity of its reply buffer (CLIENT LIST `omem`), updated once per batch and when it
    /// is given back after staying empty.
    pub reply_buf_bytes: AtomicU64,
    /// Set while the connection waits in a blocking command: what wakes it, and what CLIENT
    /// UNBLOCK asked for.
    pub blocked: Mutex<Option<BlockedWake>>,
    /// Who the connection authenticated as (CLIENT LIST `user`, CLIENT KILL USER, ACL LOG's
    /// client-info): the token's id; None is Redis's `default` (auth off, not authenticated).
    pub user: Mutex<Option<Arc<str>>>,
    /// Client-side caching: invalidations waiting to be sent to this connection.
    pub invalidations: crate::resp::tracking::Inbox,
    /// CLIENT TRACKING's mode bits (`tracking::MODE_*`), 0 when off: read by the connection
    /// after each command without the tracking lock.
    pub tracking_mode: AtomicU8,
    /// CLIENT CACHING for the next command: 0 none, 1 yes, 2 no.
    pub caching: AtomicU8,
}

/// How CLIENT UNBLOCK ends a blocked command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnblockAs {
    /// As if its timeout had passed.
    Timeout,
    /// With `-UNBLOCKED client unblocked via CLIENT UNBLOCK`.
    Error,
}

pub struct BlockedWake {
    pub notify: Arc<Notify>,
    pub unblock: Option<UnblockAs>,
}

/// Redis's reply buffer size (PROTO_REPLY_CHUNK_BYTES): CLIENT LIST's `rbs` at most.
const REPLY_BUFFER_SHOWN: u64 = 16 * 1024;

impl ClientInfo {
    /// The user name CLIENT LIST shows.
    pub fn user_name(&self) -> String {
        self.user.lock().as_deref().unwrap_or("default").to_string()
    }

    /// CLIENT UNBLOCK: end this client's blocking command, if it is in one. Whether it was.
    pub fn unblock(&self, how: UnblockAs) -> bool {
        let mut g = self.blocked.lock();
        match g.as_mut() {
            Some(b) => {
                b.unblock = Some(how);
                b.notify.notify_one();
                true
            }
            None => false,
        }
    }

    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.kill_notify.notify_one();
    }

    /// One line of CLIENT LIST / CLIENT INFO, with Redis's field names.
    pub fn describe(&self, now_ms: u64) -> String {
        self.describe_as(now_ms, None)
    }

    /// [`Self::describe`] of the client running the command: `current` is that command's full
    /// name (`client|list`), the bytes of its request and of its arguments, which Redis shows
    /// as `cmd`, `qbuf` (the request is still in its query buffer while it runs) and `argv-mem`.
    pub fn describe_as(&self, now_ms: u64, current: Option<(&str, usize, usize)>) -> String {
        let name = self.name.lock().clone().unwrap_or_default();
        let age = now_ms.saturating_sub(self.created_ms) / 1000;
        let idle = now_ms.saturating_sub(self.last_active_ms.load(Ordering::Relaxed)) / 1000;
        let sub = self.subscriptions.load(Ordering::Relaxed);
        let psub = self.psubscriptions.load(Ordering::Relaxed);
        // Redis's fields: qbuf / qbuf-free are the query (read) buffer (Ferrite knows the bytes
        // in it only for the caller's running request: everyone else's whole buffer shows as
        // qbuf-free); rbs is the reply
        // buffer (16 KiB) and omem what replies hold past it (Redis's reply list). Ferrite's
        // one reply buffer grows in place: its first 16 KiB are shown as rbs, the rest as omem.
        let read = self.read_buf_bytes.load(Ordering::Relaxed);
        let reply = self.reply_buf_bytes.load(Ordering::Relaxed);
        let rbs = reply.min(REPLY_BUFFER_SHOWN);
        let omem = reply - rbs;
        let qbuf = current.map_or(0, |(_, n, _)| n as u64);
        let argv_mem = current.map_or(0, |(_, _, n)| n);
        let last_cmd = *self.last_cmd.lock();
        let cmd = current.map_or(last_cmd, |(c, _, _)| c);
        let flags = if sub + psub > 0 {
            "P"
        } else if self.in_multi.load(Ordering::Relaxed) {
            "x"
        } else {
            "N"
        };
        format!(
            "id={} addr={} laddr={} fd=0 name={} age={} idle={} flags={} db={} sub={} psub={} ssub=0 multi={} qbuf={} qbuf-free={} argv-mem={} multi-mem=0 rbs={} rbp=0 obl=0 oll=0 omem={} tot-mem={} events=r cmd={} user={} redir=-1 resp={} lib-name= lib-ver=",
            self.id,
            self.addr,
            self.laddr,
            String::from_utf8_lossy(&name),
            age,
            idle,
            flags,
            self.db.load(Ordering::Relaxed),
            sub,
            psub,
            if self.in_multi.load(Ordering::Relaxed) { 0 } else { -1 },
            qbuf,
            read.saturating_sub(qbuf),
            argv_mem,
            rbs,
            omem,
            read + reply,
            cmd,
            self.user_name(),
            self.resp.load(Ordering::Relaxed),
        )
    }
}

/// All connected RESP clients.
#[derive(Default)]
pub struct ClientRegistry {
    next_id: AtomicU64,
    clients: Mutex<BTreeMap<u64, Arc<ClientInfo>>>,
}

impl ClientRegistry {
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }
    pub fn register(&self, c: Arc<ClientInfo>) {
        self.clients.lock().insert(c.id, c);
    }
    pub fn unregister(&self, id: u64) {
        if let Some(c) = self.clients.lock().remove(&id) {
            c.gone.store(true, Ordering::Release);
        }
    }
    pub fn len(&self) -> usize {
        self.clients.lock().len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn all(&self) -> Vec<Arc<ClientInfo>> {
        self.clients.lock().values().cloned().collect()
    }
    pub fn get(&self, id: u64) -> Option<Arc<ClientInfo>> {
        self.clients.lock().get(&id).cloned()
    }
    pub fn kill_all(&self) {
        for c in self.all() {
            c.kill();
        }
    }
}
