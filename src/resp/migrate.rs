//! MIGRATE's outbound side: the connection to the target server (Redis or Ferrite), what is
//! sent on it (AUTH, SELECT, one RESTORE per key, pipelined as Redis does) and the replies
//! read back, and the cache of connections Redis keeps for 10 seconds per target
//! (`migrate_cached_sockets` in INFO).
//!
//! It runs as a task on the runtime while the MIGRATE-ing connection waits for it
//! (`resp::conn::migrate`), so a slow or unreachable target delays only that client, where
//! Redis's synchronous MIGRATE blocks the whole server for up to its timeout.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferrite_resp::encode_array_of_bulks;
use parking_lot::Mutex;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};

/// How long an idle cached connection is kept (Redis's `MIGRATE_SOCKET_CACHE_TTL`).
pub const SOCKET_TTL: Duration = Duration::from_secs(10);
/// At most this many cached connections (Redis's `MIGRATE_SOCKET_CACHE_ITEMS`); one more
/// replaces an arbitrary one.
const MAX_SOCKETS: usize = 64;
/// Longest reply line read from the target: RESTORE answers `+OK` or one error line.
const MAX_LINE: usize = 64 * 1024;

pub const ERR_CONNECT: &str = "IOERR error or timeout connecting to the client";
pub const ERR_WRITE: &str = "IOERR error or timeout writing to target instance";
pub const ERR_READ: &str = "IOERR error or timeout reading to target instance";

/// One connection to a target, between uses.
struct Cached {
    stream: BufReader<TcpStream>,
    /// The database the last SELECT on it chose (None: unknown, SELECT again).
    db: Option<i64>,
    last_use: Instant,
}

/// Connections kept per `host:port` (shared by every client's MIGRATE). A MIGRATE takes its
/// target's connection out while it uses it, so two never interleave on one.
#[derive(Default)]
pub struct MigrateSockets {
    cached: Mutex<HashMap<String, Cached>>,
}

impl MigrateSockets {
    /// Connections cached now (INFO `migrate_cached_sockets`); idle ones past their time are
    /// closed first.
    pub fn count(&self) -> usize {
        self.sweep();
        self.cached.lock().len()
    }

    /// Close connections idle for longer than [`SOCKET_TTL`].
    pub fn sweep(&self) {
        self.cached
            .lock()
            .retain(|_, c| c.last_use.elapsed() <= SOCKET_TTL);
    }

    fn take(&self, target: &str) -> Option<Cached> {
        let c = self.cached.lock().remove(target)?;
        (c.last_use.elapsed() <= SOCKET_TTL).then_some(c)
    }

    fn put(self: &Arc<Self>, target: String, c: Cached) {
        {
            let mut cached = self.cached.lock();
            if cached.len() >= MAX_SOCKETS && !cached.contains_key(&target) {
                if let Some(k) = cached.keys().next().cloned() {
                    cached.remove(&k);
                }
            }
            cached.insert(target, c);
        }
        // Closed on time even if nothing asks again (Redis's cron does the same).
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            tokio::time::sleep(SOCKET_TTL + Duration::from_millis(100)).await;
            if let Some(s) = me.upgrade() {
                s.sweep();
            }
        });
    }
}

/// What one MIGRATE sends.
pub struct MigrateJob {
    /// `host:port`, as given.
    pub target: String,
    pub db: i64,
    pub timeout: Duration,
    pub replace: bool,
    /// AUTH's (username, password).
    pub auth: Option<(Option<Bytes>, Bytes)>,
    /// (key, TTL in ms or 0, DUMP payload), for each key that exists.
    pub items: Vec<(Bytes, u64, Bytes)>,
}

/// How it went: the keys the target accepted, and the error to answer (without its leading
/// `-`), if any.
#[derive(Debug, Default)]
pub struct MigrateOutcome {
    pub acked: Vec<usize>,
    pub error: Option<String>,
}

/// One reply line (without CRLF), within the job's timeout and [`MAX_LINE`].
async fn read_line(stream: &mut BufReader<TcpStream>, deadline: Duration) -> Option<Vec<u8>> {
    let mut line = Vec::new();
    let read = async {
        loop {
            let buf = stream.fill_buf().await.ok()?;
            if buf.is_empty() {
                return None;
            }
            match buf.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    line.extend_from_slice(&buf[..i]);
                    stream.consume(i + 1);
                    return Some(());
                }
                None => {
                    let n = buf.len();
                    line.extend_from_slice(buf);
                    stream.consume(n);
                    if line.len() > MAX_LINE {
                        return None;
                    }
                }
            }
        }
    };
    timeout(deadline, read).await.ok()??;
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Some(line)
}

/// Run `job` against its target (Redis's migrateCommand after its argument checks).
pub async fn run(sockets: Arc<MigrateSockets>, job: MigrateJob) -> MigrateOutcome {
    let mut out = MigrateOutcome::default();
    let mut conn = match sockets.take(&job.target) {
        Some(c) => c,
        None => match timeout(job.timeout, TcpStream::connect(&job.target)).await {
            Ok(Ok(s)) => {
                let _ = s.set_nodelay(true);
                Cached {
                    stream: BufReader::new(s),
                    db: None,
                    last_use: Instant::now(),
                }
            }
            // Refused or unreachable: Redis's non-blocking connect only finds out when it
            // writes, and answers the write error; a connect that times out is the connect
            // error.
            Ok(Err(_)) => {
                out.error = Some(ERR_WRITE.into());
                return out;
            }
            Err(_) => {
                out.error = Some(ERR_CONNECT.into());
                return out;
            }
        },
    };
    // Everything in one write, then the replies in order (Redis pipelines the same way).
    let mut req = bytes::BytesMut::new();
    if let Some((user, password)) = &job.auth {
        match user {
            Some(u) => encode_array_of_bulks(&[b"AUTH", u, password], &mut req),
            None => encode_array_of_bulks(&[b"AUTH", password], &mut req),
        }
    }
    let select = conn.db != Some(job.db);
    if select {
        encode_array_of_bulks(&[b"SELECT", job.db.to_string().as_bytes()], &mut req);
    }
    for (key, ttl, payload) in &job.items {
        let ttl = ttl.to_string();
        let mut parts: Vec<&[u8]> = vec![b"RESTORE", key, ttl.as_bytes(), payload];
        if job.replace {
            parts.push(b"REPLACE");
        }
        encode_array_of_bulks(&parts, &mut req);
    }
    let wrote = timeout(job.timeout, conn.stream.get_mut().write_all(&req)).await;
    if !matches!(wrote, Ok(Ok(()))) {
        out.error = Some(ERR_WRITE.into());
        return out;
    }
    // A failed AUTH or SELECT fails every RESTORE after it: the first error is what the
    // client is told, as in Redis.
    let mut first_error: Option<Vec<u8>> = None;
    let mut broken = false;
    // Only `+...` is success and only `-...` an error from the target: anything else is not a
    // Redis server answering (a proxy, another protocol), and nothing counts as migrated.
    let status = |line: Option<Vec<u8>>| match line {
        Some(l) if l.first() == Some(&b'+') => Some(Ok(())),
        Some(l) if l.first() == Some(&b'-') => Some(Err(l)),
        _ => None,
    };
    for _ in 0..(job.auth.is_some() as usize + select as usize) {
        match status(read_line(&mut conn.stream, job.timeout).await) {
            None => {
                out.error = Some(ERR_READ.into());
                return out;
            }
            Some(Err(l)) if first_error.is_none() => first_error = Some(l),
            Some(_) => {}
        }
    }
    for i in 0..job.items.len() {
        match status(read_line(&mut conn.stream, job.timeout).await) {
            None => {
                // The connection is dropped; what was acknowledged so far stays acknowledged.
                broken = true;
                if first_error.is_none() {
                    out.error = Some(ERR_READ.into());
                }
                break;
            }
            Some(Err(l)) if first_error.is_none() => first_error = Some(l),
            Some(Ok(())) if first_error.is_none() => out.acked.push(i),
            Some(_) => {}
        }
    }
    if let Some(e) = first_error {
        out.error = Some(format!(
            "ERR Target instance replied with error: {}",
            String::from_utf8_lossy(&e[1..])
        ));
        // On error the selected database is no longer known.
        conn.db = None;
    } else if out.error.is_none() {
        conn.db = Some(job.db);
    }
    if !broken {
        conn.last_use = Instant::now();
        sockets.put(job.target, conn);
    }
    out
}
