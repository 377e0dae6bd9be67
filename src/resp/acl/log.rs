//! `ACL LOG`: the server's bounded log of denials, as Redis 7.0 keeps it (acl.c
//! `addACLLogEntry`): a NOPERM on a command, a key or a channel, and a failed AUTH. Newest first;
//! a denial like one of the 10 newest (same reason, context, object and username, at most 60 s
//! after it) is merged into it (count + 1, its time and client info refreshed, moved to the
//! front); past `acllog-max-len` entries (CONFIG SET, default 128) the oldest go. The bytes the
//! entries hold are charged to the memory budget (`used_memory`, `maxmemory`) and reported apart
//! from the dataset (`ServerStats::acl_log`).

use std::collections::VecDeque;

use parking_lot::Mutex;

use crate::shared::{ServerStats, Shared};

/// Redis's `ACL_LOG_GROUPING_MAX_TIME_DELTA`.
const MERGE_WITHIN_MS: u64 = 60_000;
/// How many of the newest entries a denial is compared with (Redis: 10).
const MERGE_SCAN: usize = 10;

/// What was denied (Redis's `ACL_DENIED_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    Command,
    Key,
    Channel,
    Auth,
}

impl Reason {
    pub fn name(self) -> &'static str {
        match self {
            Reason::Command => "command",
            Reason::Key => "key",
            Reason::Channel => "channel",
            Reason::Auth => "auth",
        }
    }
}

/// Where the command ran (Redis's `ACL_LOG_CTX_*`; Ferrite has no scripts or modules).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    Toplevel,
    /// Queued inside MULTI.
    Multi,
}

impl Context {
    pub fn name(self) -> &'static str {
        match self {
            Context::Toplevel => "toplevel",
            Context::Multi => "multi",
        }
    }
}

/// One denial, as `ACL LOG` shows it.
#[derive(Clone, Debug)]
pub struct Entry {
    pub count: u64,
    pub reason: Reason,
    pub context: Context,
    /// The command (`config|set` for a subcommand), key or channel denied, or `AUTH`.
    pub object: Vec<u8>,
    /// Who was denied: the token id (for a failed AUTH, the username the client sent).
    pub username: String,
    /// When it last happened (engine time, ms).
    pub ctime_ms: u64,
    /// CLIENT INFO of the connection, the last time it happened.
    pub client_info: String,
}

impl Entry {
    /// Bytes the entry holds: itself and its three buffers.
    fn cost(&self) -> usize {
        std::mem::size_of::<Entry>()
            + self.object.capacity()
            + self.username.capacity()
            + self.client_info.capacity()
    }

    fn same_as(&self, other: &Entry) -> bool {
        self.reason == other.reason
            && self.context == other.context
            && self.object == other.object
            && self.username == other.username
            && other.ctime_ms.saturating_sub(self.ctime_ms) <= MERGE_WITHIN_MS
    }
}

#[derive(Default)]
struct Inner {
    entries: VecDeque<Entry>,
    bytes: usize,
}

/// The server's ACL log (one per server, in `Shared`).
#[derive(Default)]
pub struct AclLog {
    inner: Mutex<Inner>,
}

impl AclLog {
    /// Record a denial (cold path: only refused requests get here).
    pub fn add(&self, shared: &Shared, entry: Entry) {
        let max = shared
            .redis_params
            .get("acllog-max-len")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(128);
        let before;
        let after;
        {
            let mut g = self.inner.lock();
            before = g.bytes;
            let scan = g.entries.len().min(MERGE_SCAN);
            match (0..scan).find(|&i| g.entries[i].same_as(&entry)) {
                Some(i) => {
                    let mut e = g.entries.remove(i).expect("index in range");
                    g.bytes -= e.cost();
                    e.count += 1;
                    e.ctime_ms = entry.ctime_ms;
                    e.client_info = entry.client_info;
                    g.bytes += e.cost();
                    g.entries.push_front(e);
                }
                None => {
                    g.bytes += entry.cost();
                    g.entries.push_front(entry);
                    while g.entries.len() > max {
                        let old = g.entries.pop_back().expect("not empty");
                        g.bytes -= old.cost();
                    }
                }
            }
            after = g.bytes;
        }
        Self::charge(shared, after as isize - before as isize);
    }

    /// The newest `count` entries.
    pub fn newest(&self, count: usize) -> Vec<Entry> {
        self.inner
            .lock()
            .entries
            .iter()
            .take(count)
            .cloned()
            .collect()
    }

    /// `ACL LOG RESET`.
    pub fn reset(&self, shared: &Shared) {
        let freed = {
            let mut g = self.inner.lock();
            g.entries.clear();
            std::mem::take(&mut g.bytes)
        };
        Self::charge(shared, -(freed as isize));
    }

    pub fn len(&self) -> usize {
        self.inner.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn charge(shared: &Shared, delta: isize) {
        if delta != 0 {
            shared.store.budget().charge(delta);
            ServerStats::add_signed(&shared.stats.acl_log, delta);
        }
    }
}
