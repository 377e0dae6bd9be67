//! `[quotas]` and `[metering]`: per-tenant rate limits, data-volume quotas and usage metering
//! (see docs/metering.md in the repository for what is counted and how limits answer).
//!
//! Kept in its own module so the sections stay one small, additive hunk in `lib.rs`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{byte_size, invalid, ConfigError};

/// Default `quotas.volume_period_secs`: 30 days (Momento's free tier is 50 GB a month).
pub const DEFAULT_VOLUME_PERIOD_SECS: u64 = 30 * 24 * 60 * 60;
/// Default `metering.max_tracked_keys`: distinct (token, cache) pairs with their own figures.
pub const DEFAULT_METERING_MAX_TRACKED_KEYS: usize = 10_000;
/// Default `metering.retire_interval_secs`: how often figures of deleted caches are dropped.
pub const DEFAULT_METERING_RETIRE_INTERVAL_SECS: u64 = 300;

/// One set of limits; every field 0 = unlimited.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct QuotaLimits {
    /// Operations (RESP commands, gRPC calls) per second; bursts of one second's worth.
    pub ops_per_sec: u64,
    /// Bytes in + out per second (bytes); bursts of one second's worth.
    #[serde(deserialize_with = "byte_size::deserialize")]
    pub bytes_per_sec: u64,
    /// Bytes in + out per `quotas.volume_period_secs` (bytes).
    #[serde(deserialize_with = "byte_size::deserialize")]
    pub volume_bytes: u64,
}

impl QuotaLimits {
    pub fn is_unlimited(&self) -> bool {
        self.ops_per_sec == 0 && self.bytes_per_sec == 0 && self.volume_bytes == 0
    }
}

/// An override for one cache or token: keys left out inherit the section's defaults.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(default, deny_unknown_fields)]
pub struct QuotaOverride {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ops_per_sec: Option<u64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "byte_size::deserialize_opt"
    )]
    pub bytes_per_sec: Option<u64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "byte_size::deserialize_opt"
    )]
    pub volume_bytes: Option<u64>,
}

impl QuotaOverride {
    /// These overrides applied over `base`.
    pub fn over(&self, base: QuotaLimits) -> QuotaLimits {
        QuotaLimits {
            ops_per_sec: self.ops_per_sec.unwrap_or(base.ops_per_sec),
            bytes_per_sec: self.bytes_per_sec.unwrap_or(base.bytes_per_sec),
            volume_bytes: self.volume_bytes.unwrap_or(base.volume_bytes),
        }
    }
}

/// `[quotas]` section. Flat default keys (so `FERRITE_QUOTAS_CACHE_OPS_PER_SEC` works), plus
/// `[quotas.caches.NAME]` and `[quotas.tokens.ID]` override tables.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct QuotasConfig {
    /// Default operations per second for every cache (0 = unlimited).
    pub cache_ops_per_sec: u64,
    /// Default bytes per second for every cache (bytes; 0 = unlimited).
    #[serde(deserialize_with = "byte_size::deserialize")]
    pub cache_bytes_per_sec: u64,
    /// Default data volume per period for every cache (bytes; 0 = unlimited).
    #[serde(deserialize_with = "byte_size::deserialize")]
    pub cache_volume_bytes: u64,
    /// Default operations per second for every token (0 = unlimited).
    pub token_ops_per_sec: u64,
    /// Default bytes per second for every token (bytes; 0 = unlimited).
    #[serde(deserialize_with = "byte_size::deserialize")]
    pub token_bytes_per_sec: u64,
    /// Default data volume per period for every token (bytes; 0 = unlimited).
    #[serde(deserialize_with = "byte_size::deserialize")]
    pub token_volume_bytes: u64,
    /// Length of a data-volume period in seconds.
    pub volume_period_secs: u64,
    /// Per-cache overrides: `[quotas.caches.NAME]`.
    pub caches: BTreeMap<String, QuotaOverride>,
    /// Per-token overrides: `[quotas.tokens.ID]`.
    pub tokens: BTreeMap<String, QuotaOverride>,
}

impl Default for QuotasConfig {
    fn default() -> Self {
        QuotasConfig {
            cache_ops_per_sec: 0,
            cache_bytes_per_sec: 0,
            cache_volume_bytes: 0,
            token_ops_per_sec: 0,
            token_bytes_per_sec: 0,
            token_volume_bytes: 0,
            volume_period_secs: DEFAULT_VOLUME_PERIOD_SECS,
            caches: BTreeMap::new(),
            tokens: BTreeMap::new(),
        }
    }
}

impl QuotasConfig {
    /// The defaults every cache gets.
    pub fn cache_defaults(&self) -> QuotaLimits {
        QuotaLimits {
            ops_per_sec: self.cache_ops_per_sec,
            bytes_per_sec: self.cache_bytes_per_sec,
            volume_bytes: self.cache_volume_bytes,
        }
    }

    /// The defaults every token gets.
    pub fn token_defaults(&self) -> QuotaLimits {
        QuotaLimits {
            ops_per_sec: self.token_ops_per_sec,
            bytes_per_sec: self.token_bytes_per_sec,
            volume_bytes: self.token_volume_bytes,
        }
    }

    /// The limits of one cache.
    pub fn for_cache(&self, name: &str) -> QuotaLimits {
        let base = self.cache_defaults();
        self.caches.get(name).map_or(base, |o| o.over(base))
    }

    /// The limits of one token.
    pub fn for_token(&self, id: &str) -> QuotaLimits {
        let base = self.token_defaults();
        self.tokens.get(id).map_or(base, |o| o.over(base))
    }

    /// Whether any limit is configured at all (if not, the data path skips quota checks).
    pub fn any_limit(&self) -> bool {
        !self.cache_defaults().is_unlimited()
            || !self.token_defaults().is_unlimited()
            || self
                .caches
                .values()
                .chain(self.tokens.values())
                .any(|o| !o.over(QuotaLimits::default()).is_unlimited())
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.volume_period_secs == 0 {
            return Err(invalid(
                "quotas.volume_period_secs",
                "must be greater than 0",
            ));
        }
        let mut values = vec![
            (
                "quotas.cache_bytes_per_sec".to_string(),
                self.cache_bytes_per_sec,
            ),
            (
                "quotas.cache_volume_bytes".to_string(),
                self.cache_volume_bytes,
            ),
            (
                "quotas.token_bytes_per_sec".to_string(),
                self.token_bytes_per_sec,
            ),
            (
                "quotas.token_volume_bytes".to_string(),
                self.token_volume_bytes,
            ),
            (
                "quotas.cache_ops_per_sec".to_string(),
                self.cache_ops_per_sec,
            ),
            (
                "quotas.token_ops_per_sec".to_string(),
                self.token_ops_per_sec,
            ),
            (
                "quotas.volume_period_secs".to_string(),
                self.volume_period_secs,
            ),
        ];
        for (kind, map) in [("caches", &self.caches), ("tokens", &self.tokens)] {
            for (name, o) in map {
                if name.is_empty() {
                    return Err(invalid(
                        &format!("quotas.{kind}"),
                        "an override needs a non-empty name",
                    ));
                }
                for (field, v) in [
                    ("ops_per_sec", o.ops_per_sec),
                    ("bytes_per_sec", o.bytes_per_sec),
                    ("volume_bytes", o.volume_bytes),
                ] {
                    if let Some(v) = v {
                        values.push((format!("quotas.{kind}.{name}.{field}"), v));
                    }
                }
            }
        }
        // TOML integers are signed 64-bit; keep every value printable.
        for (key, v) in values {
            if v > i64::MAX as u64 {
                return Err(invalid(
                    &key,
                    format!("{v} is too large (max {})", i64::MAX),
                ));
            }
        }
        Ok(())
    }
}

/// `[metering]` section.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct MeteringConfig {
    /// Most distinct (token, cache) pairs with their own figures; the rest are added up under
    /// token `other`, cache `other` so metric label sets stay bounded.
    pub max_tracked_keys: usize,
    /// How often figures of deleted caches are dropped (seconds; a key is dropped on the second
    /// sweep that finds its cache gone, so the final figure stays readable for one interval).
    pub retire_interval_secs: u64,
}

impl Default for MeteringConfig {
    fn default() -> Self {
        MeteringConfig {
            max_tracked_keys: DEFAULT_METERING_MAX_TRACKED_KEYS,
            retire_interval_secs: DEFAULT_METERING_RETIRE_INTERVAL_SECS,
        }
    }
}

impl MeteringConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.max_tracked_keys == 0 {
            return Err(invalid(
                "metering.max_tracked_keys",
                "must be greater than 0",
            ));
        }
        if self.retire_interval_secs == 0 || self.retire_interval_secs > i64::MAX as u64 {
            return Err(invalid(
                "metering.retire_interval_secs",
                "must be greater than 0",
            ));
        }
        Ok(())
    }
}
