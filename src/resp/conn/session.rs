//! The state of one connection (`Session`): its construction, the cache it uses, and what it
//! gives back when it ends.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use ferrite_auth::{AuthError, Principal};
use ferrite_resp::ParseLimits;
use ferrite_storage::{Cache, WatchTicket, DEFAULT_CACHE};
use tokio::time::Instant;

use super::exec::Blocked;
use super::io::Spliced;
use super::pubsub::PubSub;
use crate::resp::buffers::BUF_INITIAL;
use crate::resp::client::ClientInfo;
use crate::shared::{ServerStats, Shared};
use ferrite_service::{Counters, MeterKey, QuotaHandle};

pub(super) struct Session {
    pub(super) shared: Arc<Shared>,
    pub(super) info: Arc<ClientInfo>,
    /// The cache of the selected database: `base` for database 0, `<base>-db<n>` for n.
    pub(super) cache: Arc<Cache>,
    /// Database 0's cache: the one AUTH names (`default` without). Pub/sub lives here whatever
    /// the database, as in Redis.
    pub(super) base: Arc<Cache>,
    /// The selected database (SELECT).
    pub(super) db: usize,
    pub(super) resp3: bool,
    pub(super) inbuf: BytesMut,
    pub(super) out: BytesMut,
    /// The parsed arguments of the command being run; reused (see `process_input`).
    pub(super) args: Vec<Bytes>,
    /// The previous command's, swapped with `args` after each command (see `process_input`).
    pub(super) last_args: Vec<Bytes>,
    /// Large pub/sub payloads waiting to be written between the bytes of `out`.
    pub(super) spliced: Spliced,
    /// Name of the last command run, for CLIENT LIST (see `publish_client_info`).
    pub(super) last_cmd: &'static str,
    /// Size of `inbuf`'s allocation: exact, every allocation of it is made by `fit_read_buf`.
    pub(super) in_alloc: usize,
    /// The last read filled all the room `inbuf` had (the client streams): `fit_read_buf`
    /// grows it, up to `STREAM_READ_MAX`.
    pub(super) read_filled: bool,
    /// Size of `out`'s allocation, and the address of its end, which names the allocation:
    /// `BytesMut` grows it behind our back (ReplyWriter appends) and says only how much room
    /// is left after the read position (`capacity()`), so the size is followed from outside
    /// (`sync_out`). Exact whenever the buffer was last emptied.
    pub(super) out_alloc: usize,
    pub(super) out_end: usize,
    /// Bytes of the allocation before the read position (already written out), as of the last
    /// `sync_out`.
    pub(super) out_off: usize,
    /// When to give a subscriber's large empty reply buffer back.
    pub(super) shrink_at: Option<Instant>,
    pub(super) limits: ParseLimits,
    /// `limits` with Redis's pre-AUTH caps, used while auth is required and not done.
    pub(super) preauth_limits: ParseLimits,
    /// Bytes of `inbuf` charged to the listener-wide input budget (0 while it holds less than
    /// `INPUT_CHARGE_ABOVE`: ordinary requests never touch the shared counter).
    pub(super) charged: usize,
    pub(super) query_limit: usize,
    pub(super) reply_limit: usize,
    /// Some while inside MULTI: the queued commands, and whether queueing hit an error.
    pub(super) multi: Option<(Vec<Vec<Bytes>>, bool)>,
    /// Inside MULTI after a queued SELECT: the database the next queued commands will run in.
    pub(super) multi_db: Option<(usize, Arc<Cache>)>,
    /// Bytes the queued MULTI commands hold, charged to the memory budget (see `queue_cost`).
    pub(super) multi_bytes: usize,
    /// Bytes of the read and reply buffers as last published (see `charge_buffers`).
    pub(super) buf_charged: usize,
    pub(super) watches: Vec<(Arc<Cache>, WatchTicket)>,
    pub(super) blocked: Option<Blocked>,
    /// Flush what is pending, then close (QUIT, protocol error, shutdown).
    pub(super) closing: bool,
    /// Pub/sub state, created on the first subscribe.
    pub(super) pubsub: Option<PubSub>,
    pub(super) pubsub_limit: usize,
    /// Engine time for the commands of the current batch: read once per batch, not per
    /// command (clock reads showed up in profiles of pipelined traffic).
    pub(super) now: u64,
    /// Who this connection is metered and limited as (service/tenant.rs): `anonymous` until
    /// AUTH in auth mode `token`, then the token id; the cache follows `set_cache`.
    pub(super) tenant: MeterKey,
    /// The tenant's limiters, resolved once per identity (empty when no limit applies).
    pub(super) quota: QuotaHandle,
    /// Usage not yet folded into `shared.metering`: plain fields, folded once per loop turn so
    /// pipelined commands cost no shared write each.
    pub(super) meter: Counters,
    /// Auth mode `token`: commands are checked against `principal` (src/authz.rs).
    pub(super) enforcing: bool,
    /// Who this connection authenticated as; None = not (or no longer) authenticated.
    pub(super) principal: Option<Principal>,
    /// The principal is a super-user: no per-command checks (the hot path stays as it was).
    pub(super) unrestricted: bool,
    /// Why the principal was dropped (expired, revoked), for the next NOAUTH.
    pub(super) lost_auth: Option<AuthError>,
    /// Statistics, CLIENT REPLY, MONITOR and CLIENT PAUSE state (`observe.rs`).
    pub(super) obs: super::observe::Observe,
    /// The script this connection waits for (EVAL & co. run on a blocking thread).
    pub(super) script: Option<super::scripting::ScriptJob>,
    /// The MIGRATE transfer this connection waits for.
    pub(super) migrating: Option<super::migrate::MigrateWait>,
}

impl Session {
    /// A new connection's state: the default cache as `anonymous`, the configured limits;
    /// in auth mode `none` already authenticated (unrestricted).
    pub(super) fn new(
        shared: &Arc<Shared>,
        info: &Arc<ClientInfo>,
        limits: ParseLimits,
        query_limit: usize,
        reply_limit: usize,
    ) -> Session {
        let cache = shared.store.get_or_create(DEFAULT_CACHE);
        let tenant = MeterKey::anonymous(cache.name_arc().clone());
        let quota = shared.quotas.handle(&tenant);
        let mut s = Session {
            shared: shared.clone(),
            info: info.clone(),
            base: cache.clone(),
            cache,
            db: 0,
            resp3: false,
            inbuf: BytesMut::with_capacity(BUF_INITIAL),
            args: Vec::with_capacity(8),
            last_args: Vec::with_capacity(8),
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
            multi_db: None,
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
            obs: Default::default(),
            script: None,
            migrating: None,
        };
        if !s.enforcing {
            s.principal = Some(Principal::unrestricted(""));
            s.unrestricted = true;
        }
        s
    }

    /// What CLIENT LIST shows of this connection and only this task changes: the last command
    /// (the buffer sizes are published by `charge_buffers`, when they change). Once per batch:
    /// a lock per command was ~2% of pipelined GET CPU.
    pub(super) fn publish_client_info(&self) {
        *self.info.last_cmd.lock() = self.last_cmd;
    }

    /// Use `cache` as database 0 (AUTH's cache choice, RESET), with database 0 selected.
    pub(super) fn set_cache(&mut self, cache: Arc<Cache>) {
        self.base = cache.clone();
        self.use_db(cache, 0);
    }

    /// Make `cache` (database `db` of `base`) the one commands run on.
    pub(super) fn use_db(&mut self, cache: Arc<Cache>, db: usize) {
        *self.info.cache.lock() = cache.name_arc().clone();
        self.info.db.store(db, std::sync::atomic::Ordering::Relaxed);
        // Metering and limits follow the cache the connection uses.
        self.set_tenant(MeterKey::new(
            self.tenant.token.clone(),
            cache.name_arc().clone(),
        ));
        self.cache = cache;
        self.db = db;
    }

    pub(super) fn cleanup(&mut self) {
        // A MIGRATE still running finishes on its own (its keys stay here, as with COPY); the
        // payload copies it holds go back to the budget with it.
        if let Some(m) = self.migrating.take() {
            m.release(&self.shared);
        }
        if self
            .info
            .tracking_mode
            .load(std::sync::atomic::Ordering::Relaxed)
            != 0
        {
            self.shared
                .tracking
                .disable(&self.shared.store, self.info.id);
            self.info
                .tracking_mode
                .store(0, std::sync::atomic::Ordering::Relaxed);
        }
        if let Some(b) = self.blocked.take() {
            self.release_block(&b);
        }
        self.stop_monitor();
        self.unwatch_all();
        self.multi = None;
        self.release_memory();
    }

    /// Give back everything this connection charged to the memory budget: its MULTI queue and
    /// its buffers. At the end of the loop (the close may still wait on the peer for a few
    /// seconds) and again on drop, so a panic or a cancelled task leaks no charge; once is
    /// enough, the second finds nothing.
    pub(super) fn release_memory(&mut self) {
        self.release_multi_memory();
        let charged = std::mem::take(&mut self.buf_charged) as isize;
        if charged != 0 {
            self.shared.store.budget().charge(-charged);
            ServerStats::add_signed(&self.shared.stats.client_buffers, -charged);
        }
    }

    /// The queued MULTI commands were run or dropped: give their bytes back to the budget.
    pub(super) fn release_multi_memory(&mut self) {
        let n = std::mem::take(&mut self.multi_bytes) as isize;
        if n != 0 {
            self.shared.store.budget().charge(-n);
            ServerStats::add_signed(&self.shared.stats.multi_queued, -n);
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.release_memory();
    }
}
