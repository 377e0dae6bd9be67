//! Quotas and rate limits per cache and per token: operations per second, bytes per second
//! (in + out) and a data volume per period. Every protocol asks the same question
//! ([`QuotaHandle::admit`]) and gets the same answer ([`QuotaError`]), which it turns into its own
//! error (RESP `-ERR ...`, gRPC RESOURCE_EXHAUSTED + `err`, later HTTP 429 + `Retry-After`).
//!
//! Cost model:
//! - no limit configured anywhere (the default): [`Quotas::handle`] returns an empty handle and
//!   the data path pays one branch per request;
//! - limits configured: each tenant (one cache, one token) has its own [`Limiter`], a small
//!   mutex-protected state that only requests of that tenant touch, so a busy or throttled
//!   tenant never slows another. RESP connections resolve their limiters once (at connect, and
//!   when their identity changes); gRPC resolves them per call through a read-locked map
//!   (shared lock, never held while anything else is locked).
//!
//! Rate limits are token buckets holding one second's worth (a burst of one second of traffic is
//! allowed). The byte bucket is charged after the request ran (the reply size is known only then)
//! and may go into debt; while in debt, requests are refused until the debt is paid back at the
//! configured rate. Volume periods are fixed windows of `quotas.volume_period_secs` counted from
//! server start (counters are in memory: a restart starts a new period).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrite_config::{QuotaLimits, QuotasConfig};
use parking_lot::{Mutex, RwLock};

use crate::tenant::MeterKey;

/// Which limit refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuotaKind {
    /// Operations per second.
    OperationsRate,
    /// Bytes (in + out) per second.
    ThroughputRate,
    /// Bytes (in + out) per period.
    DataVolume,
}

/// Whose limit it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuotaScope {
    Cache,
    Token,
}

impl QuotaKind {
    /// Momento's error cause for a refusal of this kind (gRPC `err`, HTTP `error`).
    pub fn cause(self) -> &'static str {
        use crate::error::cause;
        match self {
            QuotaKind::OperationsRate => cause::OPS_RATE,
            QuotaKind::ThroughputRate | QuotaKind::DataVolume => cause::THROUGHPUT,
        }
    }
}

impl QuotaScope {
    fn as_str(self) -> &'static str {
        match self {
            QuotaScope::Cache => "cache",
            QuotaScope::Token => "token",
        }
    }
}

/// A refused request: which limit, whose, and when trying again can succeed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuotaError {
    pub kind: QuotaKind,
    pub scope: QuotaScope,
    /// The cache name or token id whose limit was hit.
    pub name: Arc<str>,
    /// The configured limit (ops/s, bytes/s or bytes per period).
    pub limit: u64,
    /// Period length, for [`QuotaKind::DataVolume`].
    pub period: Duration,
    /// Earliest time after which a retry can succeed (at least 1 ms).
    pub retry_after: Duration,
}

impl QuotaError {
    /// Whole seconds to wait, rounded up: HTTP `Retry-After`.
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after.as_millis().div_ceil(1000).max(1) as u64
    }
}

impl fmt::Display for QuotaError {
    /// The message every protocol carries, e.g. `operations rate limit exceeded for cache 'a'
    /// (10 operations per second); retry in 100 ms`. RESP prefixes `ERR `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scope = self.scope.as_str();
        let name = &self.name;
        match self.kind {
            QuotaKind::OperationsRate => write!(
                f,
                "operations rate limit exceeded for {scope} '{name}' ({} operations per second)",
                self.limit
            )?,
            QuotaKind::ThroughputRate => write!(
                f,
                "throughput limit exceeded for {scope} '{name}' ({} bytes per second)",
                self.limit
            )?,
            QuotaKind::DataVolume => write!(
                f,
                "data volume quota exceeded for {scope} '{name}' ({} bytes per {} seconds)",
                self.limit,
                self.period.as_secs()
            )?,
        }
        write!(f, "; retry in {} ms", self.retry_after.as_millis().max(1))
    }
}

/// Mutable state of one tenant's limits.
struct LimiterState {
    last_refill: Instant,
    /// Operation tokens available (capacity = ops_per_sec).
    ops: f64,
    /// Byte tokens available (capacity = bytes_per_sec); negative = debt.
    bytes: f64,
    /// Index of the current volume period since the epoch, and bytes moved in it.
    period_index: u64,
    volume_used: u64,
}

/// The limits of one cache or one token, and their state.
pub struct Limiter {
    limits: QuotaLimits,
    scope: QuotaScope,
    name: Arc<str>,
    epoch: Instant,
    period: Duration,
    state: Mutex<LimiterState>,
}

impl Limiter {
    fn new(
        limits: QuotaLimits,
        scope: QuotaScope,
        name: Arc<str>,
        epoch: Instant,
        period: Duration,
    ) -> Self {
        let now = Instant::now();
        Self {
            limits,
            scope,
            name,
            epoch,
            period,
            state: Mutex::new(LimiterState {
                last_refill: now,
                ops: limits.ops_per_sec as f64,
                bytes: limits.bytes_per_sec as f64,
                period_index: period_index(epoch, period, now),
                volume_used: 0,
            }),
        }
    }

    fn refill(&self, st: &mut LimiterState, now: Instant) {
        let dt = now.saturating_duration_since(st.last_refill).as_secs_f64();
        st.last_refill = now;
        let l = &self.limits;
        if l.ops_per_sec > 0 {
            st.ops = (st.ops + dt * l.ops_per_sec as f64).min(l.ops_per_sec as f64);
        }
        if l.bytes_per_sec > 0 {
            st.bytes = (st.bytes + dt * l.bytes_per_sec as f64).min(l.bytes_per_sec as f64);
        }
        let p = period_index(self.epoch, self.period, now);
        if p != st.period_index {
            st.period_index = p;
            st.volume_used = 0;
        }
    }

    fn error(&self, kind: QuotaKind, limit: u64, retry_after: Duration) -> QuotaError {
        QuotaError {
            kind,
            scope: self.scope,
            name: self.name.clone(),
            limit,
            period: self.period,
            retry_after: retry_after.max(Duration::from_millis(1)),
        }
    }

    /// Admit one operation (taking an operation token) or say which limit refuses it.
    fn admit(&self, now: Instant) -> Result<(), QuotaError> {
        let l = &self.limits;
        let mut st = self.state.lock();
        self.refill(&mut st, now);
        if l.ops_per_sec > 0 && st.ops < 1.0 {
            let wait = (1.0 - st.ops) / l.ops_per_sec as f64;
            return Err(self.error(
                QuotaKind::OperationsRate,
                l.ops_per_sec,
                Duration::from_secs_f64(wait),
            ));
        }
        if l.bytes_per_sec > 0 && st.bytes <= 0.0 {
            let wait = (1.0 - st.bytes) / l.bytes_per_sec as f64;
            return Err(self.error(
                QuotaKind::ThroughputRate,
                l.bytes_per_sec,
                Duration::from_secs_f64(wait),
            ));
        }
        if l.volume_bytes > 0 && st.volume_used >= l.volume_bytes {
            let period_ms = self.period.as_millis().max(1) as u64;
            let next_ms = st.period_index.saturating_add(1).saturating_mul(period_ms);
            let next = self.epoch + Duration::from_millis(next_ms);
            return Err(self.error(
                QuotaKind::DataVolume,
                l.volume_bytes,
                next.saturating_duration_since(now),
            ));
        }
        if l.ops_per_sec > 0 {
            st.ops -= 1.0;
        }
        Ok(())
    }

    /// Give back the operation token of a request another limiter refused.
    fn refund_op(&self) {
        if self.limits.ops_per_sec > 0 {
            let mut st = self.state.lock();
            st.ops = (st.ops + 1.0).min(self.limits.ops_per_sec as f64);
        }
    }

    /// Charge bytes moved (in + out) to the throughput bucket and the period's volume.
    fn charge(&self, bytes: u64, now: Instant) {
        let l = &self.limits;
        if l.bytes_per_sec == 0 && l.volume_bytes == 0 {
            return;
        }
        let mut st = self.state.lock();
        self.refill(&mut st, now);
        if l.bytes_per_sec > 0 {
            st.bytes -= bytes as f64;
        }
        if l.volume_bytes > 0 {
            st.volume_used = st.volume_used.saturating_add(bytes);
        }
    }
}

fn period_index(epoch: Instant, period: Duration, now: Instant) -> u64 {
    let elapsed = now.saturating_duration_since(epoch).as_millis();
    (elapsed / period.as_millis().max(1)) as u64
}

/// The limiters that apply to one tenant; empty (`is_active() == false`) when no limit applies.
#[derive(Clone, Default)]
pub struct QuotaHandle {
    cache: Option<Arc<Limiter>>,
    token: Option<Arc<Limiter>>,
}

impl QuotaHandle {
    /// Whether any limit applies (callers skip sizing work for `charge` when not).
    #[inline]
    pub fn is_active(&self) -> bool {
        self.cache.is_some() || self.token.is_some()
    }

    /// Before executing a request: admit it (taking one operation from each rate limit) or
    /// return the limit that refuses it. A refused request must not run.
    #[inline]
    pub fn admit(&self) -> Result<(), QuotaError> {
        if !self.is_active() {
            return Ok(());
        }
        let now = Instant::now();
        if let Some(c) = &self.cache {
            c.admit(now)?;
        }
        if let Some(t) = &self.token {
            if let Err(e) = t.admit(now) {
                if let Some(c) = &self.cache {
                    c.refund_op();
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// After executing a request (or delivering a message): charge the bytes it moved.
    #[inline]
    pub fn charge(&self, bytes: u64) {
        if !self.is_active() || bytes == 0 {
            return;
        }
        let now = Instant::now();
        if let Some(c) = &self.cache {
            c.charge(bytes, now);
        }
        if let Some(t) = &self.token {
            t.charge(bytes, now);
        }
    }
}

type LimiterMap = RwLock<HashMap<Arc<str>, Arc<Limiter>>>;

/// Every tenant's limiters, created on first use from the `[quotas]` config.
pub struct Quotas {
    config: QuotasConfig,
    enabled: bool,
    epoch: Instant,
    period: Duration,
    caches: LimiterMap,
    tokens: LimiterMap,
}

impl Quotas {
    pub fn new(config: &QuotasConfig) -> Self {
        Self {
            enabled: config.any_limit(),
            config: config.clone(),
            epoch: Instant::now(),
            period: Duration::from_secs(config.volume_period_secs.max(1)),
            caches: RwLock::new(HashMap::new()),
            tokens: RwLock::new(HashMap::new()),
        }
    }

    /// Whether any limit is configured.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The limiters of `key`'s cache and token.
    pub fn handle(&self, key: &MeterKey) -> QuotaHandle {
        if !self.enabled {
            return QuotaHandle::default();
        }
        QuotaHandle {
            cache: self.limiter(
                &self.caches,
                &key.cache,
                self.config.for_cache(&key.cache),
                QuotaScope::Cache,
            ),
            token: self.limiter(
                &self.tokens,
                &key.token,
                self.config.for_token(&key.token),
                QuotaScope::Token,
            ),
        }
    }

    fn limiter(
        &self,
        map: &LimiterMap,
        name: &Arc<str>,
        limits: QuotaLimits,
        scope: QuotaScope,
    ) -> Option<Arc<Limiter>> {
        if limits.is_unlimited() {
            return None;
        }
        if let Some(l) = map.read().get(name) {
            return Some(l.clone());
        }
        let mut w = map.write();
        let l = w.entry(name.clone()).or_insert_with(|| {
            Arc::new(Limiter::new(
                limits,
                scope,
                name.clone(),
                self.epoch,
                self.period,
            ))
        });
        Some(l.clone())
    }

    /// Forget the limiters of deleted caches (and, with auth, of expired tokens) that no
    /// connection holds any more, so the maps stay bounded by the live tenants.
    pub fn retire(&self, cache_alive: impl Fn(&str) -> bool, token_alive: impl Fn(&str) -> bool) {
        if !self.enabled {
            return;
        }
        self.caches
            .write()
            .retain(|name, l| cache_alive(name) || Arc::strong_count(l) > 1);
        self.tokens
            .write()
            .retain(|name, l| token_alive(name) || Arc::strong_count(l) > 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrite_config::QuotaOverride;

    fn key(c: &str) -> MeterKey {
        MeterKey::anonymous(Arc::from(c))
    }

    #[test]
    fn unlimited_by_default_gives_empty_handles() {
        let q = Quotas::new(&QuotasConfig::default());
        assert!(!q.enabled());
        let h = q.handle(&key("a"));
        assert!(!h.is_active());
        for _ in 0..10_000 {
            h.admit().unwrap();
        }
    }

    #[test]
    fn ops_bucket_allows_a_one_second_burst_then_refuses() {
        let cfg = QuotasConfig {
            cache_ops_per_sec: 5,
            ..QuotasConfig::default()
        };
        let q = Quotas::new(&cfg);
        let h = q.handle(&key("a"));
        for _ in 0..5 {
            h.admit().unwrap();
        }
        let e = h.admit().unwrap_err();
        assert_eq!(e.kind, QuotaKind::OperationsRate);
        assert_eq!(e.scope, QuotaScope::Cache);
        assert!(e.retry_after <= Duration::from_millis(200));
        assert!(e.to_string().starts_with(
            "operations rate limit exceeded for cache 'a' (5 operations per second); retry in"
        ));
        // Another cache has its own bucket.
        q.handle(&key("b")).admit().unwrap();
    }

    #[test]
    fn byte_debt_and_volume_refuse_until_paid() {
        let mut cfg = QuotasConfig {
            volume_period_secs: 3600,
            ..QuotasConfig::default()
        };
        cfg.caches.insert(
            "t".into(),
            QuotaOverride {
                bytes_per_sec: Some(100),
                ..QuotaOverride::default()
            },
        );
        cfg.caches.insert(
            "v".into(),
            QuotaOverride {
                volume_bytes: Some(1000),
                ..QuotaOverride::default()
            },
        );
        let q = Quotas::new(&cfg);
        let t = q.handle(&key("t"));
        t.admit().unwrap();
        t.charge(250);
        let e = t.admit().unwrap_err();
        assert_eq!(e.kind, QuotaKind::ThroughputRate);
        assert!(e.retry_after > Duration::from_millis(1000));
        let v = q.handle(&key("v"));
        v.admit().unwrap();
        v.charge(999);
        v.admit().unwrap();
        v.charge(1);
        let e = v.admit().unwrap_err();
        assert_eq!(e.kind, QuotaKind::DataVolume);
        assert!(e.retry_after > Duration::from_secs(3500));
        assert_eq!(
            e.retry_after_secs(),
            e.retry_after.as_millis().div_ceil(1000) as u64
        );
        // Unlimited caches are not tracked at all.
        assert!(!q.handle(&key("free")).is_active());
    }

    #[test]
    fn token_refusal_refunds_the_cache_operation() {
        let cfg = QuotasConfig {
            cache_ops_per_sec: 2,
            token_ops_per_sec: 1,
            ..QuotasConfig::default()
        };
        let q = Quotas::new(&cfg);
        let h = q.handle(&key("a"));
        h.admit().unwrap();
        let e = h.admit().unwrap_err();
        assert_eq!(e.scope, QuotaScope::Token);
        // The cache still has the token the refused request took back.
        let cache_only = QuotaHandle {
            cache: h.cache.clone(),
            token: None,
        };
        cache_only.admit().unwrap();
    }
}
