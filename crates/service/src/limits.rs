//! Momento's data limits, the same for every protocol that speaks Momento's API (gRPC, HTTP):
//! item and element sizes, TTL bounds, topic names and message sizes. Those with a config key
//! come from `[grpc]` (defaults, Momento's, defined once in `ferrite_config`); the name limits
//! are Momento's fixed 255 bytes. Transport limits (message sizes, streams, windows) stay with
//! their front end. See docs/grpc.md, "Limits".

use crate::error::ServiceError;

/// Longest cache name accepted by CreateCache.
pub const DEFAULT_MAX_CACHE_NAME_BYTES: usize = 255;
/// Longest topic name accepted by publish and subscribe.
pub const DEFAULT_MAX_TOPIC_NAME_BYTES: usize = 255;

#[derive(Debug, Clone)]
pub struct Limits {
    /// Key + value of a scalar (`grpc.max_item_bytes`).
    pub max_item_bytes: usize,
    /// One collection element (`grpc.max_element_bytes`).
    pub max_element_bytes: usize,
    /// Longest TTL a write may set (`grpc.max_ttl_secs`, in ms).
    pub max_ttl_ms: u64,
    /// Largest topic message (`grpc.max_publish_bytes`).
    pub max_publish_bytes: usize,
    pub max_cache_name_bytes: usize,
    pub max_topic_name_bytes: usize,
}

impl Limits {
    pub fn from_config(g: &ferrite_config::GrpcConfig) -> Self {
        Self {
            max_item_bytes: usize::try_from(g.max_item_bytes).unwrap_or(usize::MAX),
            max_element_bytes: usize::try_from(g.max_element_bytes).unwrap_or(usize::MAX),
            max_ttl_ms: g.max_ttl_secs.saturating_mul(1000),
            max_publish_bytes: usize::try_from(g.max_publish_bytes).unwrap_or(usize::MAX),
            max_cache_name_bytes: DEFAULT_MAX_CACHE_NAME_BYTES,
            max_topic_name_bytes: DEFAULT_MAX_TOPIC_NAME_BYTES,
        }
    }

    /// A write's TTL: more than 0 and at most `max_ttl_ms`.
    pub fn check_ttl(&self, ttl_ms: u64) -> Result<(), ServiceError> {
        if ttl_ms == 0 || ttl_ms > self.max_ttl_ms {
            return Err(ServiceError::InvalidTtl {
                ttl_ms,
                max_ms: self.max_ttl_ms,
            });
        }
        Ok(())
    }

    /// Item size with the key counted.
    pub fn check_item_size(&self, key: &[u8], value_len: usize) -> Result<(), ServiceError> {
        let size = key.len() + value_len;
        if size > self.max_item_bytes {
            return Err(ServiceError::ItemTooLarge {
                size,
                max: self.max_item_bytes,
            });
        }
        Ok(())
    }

    pub fn check_element_size(&self, len: usize) -> Result<(), ServiceError> {
        if len > self.max_element_bytes {
            return Err(ServiceError::ElementTooLarge {
                size: len,
                max: self.max_element_bytes,
            });
        }
        Ok(())
    }

    pub fn check_topic_name(&self, topic: &[u8]) -> Result<(), ServiceError> {
        if topic.is_empty() || topic.len() > self.max_topic_name_bytes {
            return Err(ServiceError::InvalidTopicName {
                len: topic.len(),
                max: self.max_topic_name_bytes,
            });
        }
        Ok(())
    }

    pub fn check_publish_size(&self, len: usize) -> Result<(), ServiceError> {
        if len > self.max_publish_bytes {
            return Err(ServiceError::MessageTooLarge {
                size: len,
                max: self.max_publish_bytes,
            });
        }
        Ok(())
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::from_config(&ferrite_config::GrpcConfig::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_inclusive_of_the_limit() {
        let l = Limits::default();
        assert!(l.check_ttl(0).is_err());
        assert!(l.check_ttl(l.max_ttl_ms).is_ok());
        assert!(l.check_ttl(l.max_ttl_ms + 1).is_err());
        assert!(l.check_item_size(b"k", l.max_item_bytes - 1).is_ok());
        assert!(l.check_item_size(b"k", l.max_item_bytes).is_err());
        assert!(l.check_topic_name(b"").is_err());
        assert!(l.check_topic_name(&[b'a'; 255]).is_ok());
        assert!(l.check_topic_name(&[b'a'; 256]).is_err());
        assert!(l.check_publish_size(l.max_publish_bytes).is_ok());
        assert!(l.check_publish_size(l.max_publish_bytes + 1).is_err());
    }
}
