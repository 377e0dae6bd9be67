//! `ACL LOG`: the server's bounded log of denials, as Redis 7.0 keeps it (acl.c
//! `addACLLogEntry`): a NOPERM on a command, a key or a channel, and a failed AUTH. Newest first;
//! a denial like one of the 10 newest (same reason, context, object and username, at most 60 s
//! after it) is merged into it (count + 1, its time and client info refreshed, moved to the
//! front); past `acllog-max-len` entries (CONFIG SET, default 128) the oldest go. The bytes the
//! entries hold are charged to the memory budget (`used_memory`, `maxmemory`) and reported apart
//! from the dataset (`ServerStats::acl_log`).

use std::collections::VecDeque;

use parking_lot::Mutex;

use crate::resp::dispatch::Ctx;
use crate::shared::{ServerStats, Shared};

/// Redis's `ACL_LOG_GROUPING_MAX_TIME_DELTA`.
const MERGE_WITHIN_MS: u64 = 60_000;
/// How many of the newest entries a denial is compared with (Redis: 10).
const MERGE_SCAN: usize = 10;
/// The longest object (key, channel) and username an entry keeps; longer ones are cut (Redis
/// keeps them whole). A scoped token's denied keys may be as long as a request allows: cut, the
/// log's 128 entries hold at most a few hundred KiB.
pub const FIELD_MAX: usize = 1024;

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

/// Record a denial a command found itself (MOVE, COPY ... DB and SWAPDB check the other
/// database's cache); the connection loop records the others (`Session::authorize`).
pub fn record(ctx: &Ctx<'_, '_>, reason: Reason, object: &[u8]) {
    let Some(p) = ctx.principal else {
        return;
    };
    let now = ctx.shared.store.now_ms();
    let entry = Entry {
        count: 1,
        reason,
        context: if ctx.exec.is_some() {
            Context::Multi
        } else {
            Context::Toplevel
        },
        object: object.to_vec(),
        username: p.token_id().to_string(),
        ctime_ms: now,
        client_info: ctx.client.describe(now),
    };
    ctx.shared.acl_log.add(ctx.shared, entry);
}

/// The server's ACL log (one per server, in `Shared`).
#[derive(Default)]
pub struct AclLog {
    inner: Mutex<Inner>,
}

impl AclLog {
    /// Record a denial (cold path: only refused requests get here).
    pub fn add(&self, shared: &Shared, mut entry: Entry) {
        entry.object.truncate(FIELD_MAX);
        if entry.username.len() > FIELD_MAX {
            let cut = entry.username.floor_char_boundary(FIELD_MAX);
            entry.username.truncate(cut);
        }
        entry.object.shrink_to_fit();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn e(object: &str, at: u64) -> Entry {
        Entry {
            count: 1,
            reason: Reason::Key,
            context: Context::Toplevel,
            object: object.as_bytes().to_vec(),
            username: "u".into(),
            ctime_ms: at,
            client_info: format!("cmd=get at={at}"),
        }
    }

    #[test]
    fn merges_within_a_minute_and_among_the_newest_ten() {
        let a = e("k", 1_000);
        let mut b = e("k", 61_000);
        assert!(a.same_as(&b), "60 s apart: merged");
        b.ctime_ms = 61_001;
        assert!(!a.same_as(&b), "over 60 s: a new entry");
        let mut other = e("k", 1_000);
        other.context = Context::Multi;
        assert!(!a.same_as(&other));
        other = e("k", 1_000);
        other.username = "v".into();
        assert!(!a.same_as(&other));
        other = e("k", 1_000);
        other.reason = Reason::Channel;
        assert!(!a.same_as(&other));
    }
}
