//! The permission model (Momento's, reference §4.1): super-user, or a union of cache and topic
//! grants. Pure data and pure checks: no I/O, no clocks.
//!
//! Serialized into the token's `p` claim with short field names, because every byte of a token
//! travels in every gRPC request header.

use serde::{Deserialize, Serialize};

/// Most grants one token may carry (Momento allows 20 policy statements).
pub const MAX_GRANTS: usize = 20;

/// What a cache grant lets its holder do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CacheRole {
    #[serde(rename = "rw")]
    ReadWrite,
    #[serde(rename = "r")]
    ReadOnly,
    /// Writes only: no reads and no conditional writes (a conditional write reveals whether
    /// the item exists, which is a read).
    #[serde(rename = "w")]
    WriteOnly,
}

impl CacheRole {
    pub fn allows(self, access: CacheAccess) -> bool {
        match self {
            CacheRole::ReadWrite => true,
            CacheRole::ReadOnly => access == CacheAccess::Read,
            CacheRole::WriteOnly => access == CacheAccess::Write,
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "read-write" | "readwrite" | "rw" => Some(CacheRole::ReadWrite),
            "read-only" | "readonly" | "r" => Some(CacheRole::ReadOnly),
            "write-only" | "writeonly" | "w" => Some(CacheRole::WriteOnly),
            _ => None,
        }
    }
}

/// What a topic grant lets its holder do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TopicRole {
    #[serde(rename = "ps")]
    PublishSubscribe,
    #[serde(rename = "s")]
    SubscribeOnly,
    #[serde(rename = "p")]
    PublishOnly,
}

impl TopicRole {
    pub fn allows(self, access: TopicAccess) -> bool {
        match self {
            TopicRole::PublishSubscribe => true,
            TopicRole::SubscribeOnly => access == TopicAccess::Subscribe,
            TopicRole::PublishOnly => access == TopicAccess::Publish,
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "publish-subscribe" | "pubsub" | "ps" | "read-write" => {
                Some(TopicRole::PublishSubscribe)
            }
            "subscribe" | "subscribe-only" | "s" | "read-only" => Some(TopicRole::SubscribeOnly),
            "publish" | "publish-only" | "p" | "write-only" => Some(TopicRole::PublishOnly),
            _ => None,
        }
    }
}

/// The kind of cache access an operation needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheAccess {
    Read,
    Write,
    /// A write that depends on what is stored (SET NX, SetIfNotExists...): needs read-write.
    ConditionalWrite,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TopicAccess {
    Publish,
    Subscribe,
}

/// Which names (keys, topics) a grant covers.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Selector {
    #[serde(rename = "*")]
    All,
    #[serde(rename = "=")]
    Exact(String),
    #[serde(rename = "^")]
    Prefix(String),
}

impl Selector {
    #[inline]
    pub fn matches(&self, name: &[u8]) -> bool {
        match self {
            Selector::All => true,
            Selector::Exact(n) => n.as_bytes() == name,
            Selector::Prefix(p) => name.starts_with(p.as_bytes()),
        }
    }
}

/// One cache grant: `role` on `cache` (None = every cache) for the items `items` selects.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CacheGrant {
    #[serde(rename = "r")]
    pub role: CacheRole,
    #[serde(rename = "c", default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<String>,
    #[serde(rename = "k")]
    pub items: Selector,
}

/// One topic grant: `role` on `cache` (None = every cache) for the topics `topics` selects.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TopicGrant {
    #[serde(rename = "r")]
    pub role: TopicRole,
    #[serde(rename = "c", default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<String>,
    #[serde(rename = "t")]
    pub topics: Selector,
}

fn cache_matches(grant: &Option<String>, cache: &str) -> bool {
    grant.as_deref().is_none_or(|c| c == cache)
}

/// A token's permissions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Permissions {
    /// Everything, including control-plane calls and minting tokens.
    #[serde(rename = "su")]
    SuperUser,
    /// The union of these grants; never the control plane.
    #[serde(rename = "x")]
    Explicit {
        #[serde(rename = "c", default, skip_serializing_if = "Vec::is_empty")]
        caches: Vec<CacheGrant>,
        #[serde(rename = "t", default, skip_serializing_if = "Vec::is_empty")]
        topics: Vec<TopicGrant>,
    },
}

/// Why a permission set is refused when a token is minted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PermissionError {
    #[error("permissions must not be empty")]
    Empty,
    #[error("at most {MAX_GRANTS} permissions per token")]
    TooMany,
    #[error("duplicate permission: {0}")]
    Duplicate(String),
    #[error("conflicting permissions: {0} is granted with two different roles")]
    Conflicting(String),
    #[error("invalid permission: {0}")]
    Invalid(String),
}

impl Permissions {
    pub fn is_super_user(&self) -> bool {
        matches!(self, Permissions::SuperUser)
    }

    /// Refuse permission sets Momento refuses: empty, too many, duplicate, or the same scope
    /// granted twice with different roles (ambiguous intent), and empty names.
    pub fn validate(&self) -> Result<(), PermissionError> {
        let Permissions::Explicit { caches, topics } = self else {
            return Ok(());
        };
        if caches.is_empty() && topics.is_empty() {
            return Err(PermissionError::Empty);
        }
        if caches.len() + topics.len() > MAX_GRANTS {
            return Err(PermissionError::TooMany);
        }
        let empty_name = |c: &Option<String>, s: &Selector| {
            c.as_deref().is_some_and(str::is_empty)
                || matches!(s, Selector::Exact(n) | Selector::Prefix(n) if n.is_empty())
        };
        for (i, g) in caches.iter().enumerate() {
            if empty_name(&g.cache, &g.items) {
                return Err(PermissionError::Invalid(
                    "cache names, keys and key prefixes must not be empty".into(),
                ));
            }
            for h in &caches[..i] {
                if h.cache == g.cache && h.items == g.items {
                    let what = format!("cache {:?} items {:?}", g.cache, g.items);
                    return Err(if h.role == g.role {
                        PermissionError::Duplicate(what)
                    } else {
                        PermissionError::Conflicting(what)
                    });
                }
            }
        }
        for (i, g) in topics.iter().enumerate() {
            if empty_name(&g.cache, &g.topics) {
                return Err(PermissionError::Invalid(
                    "cache names, topics and topic prefixes must not be empty".into(),
                ));
            }
            for h in &topics[..i] {
                if h.cache == g.cache && h.topics == g.topics {
                    let what = format!("cache {:?} topics {:?}", g.cache, g.topics);
                    return Err(if h.role == g.role {
                        PermissionError::Duplicate(what)
                    } else {
                        PermissionError::Conflicting(what)
                    });
                }
            }
        }
        Ok(())
    }

    /// May `access` be done to `key` in `cache`?
    pub fn can_cache(&self, cache: &str, key: &[u8], access: CacheAccess) -> bool {
        match self {
            Permissions::SuperUser => true,
            Permissions::Explicit { caches, .. } => caches.iter().any(|g| {
                g.role.allows(access) && cache_matches(&g.cache, cache) && g.items.matches(key)
            }),
        }
    }

    /// May `access` be done to every key of `cache` (KEYS, SCAN, FLUSHDB, ...)?
    pub fn can_cache_all_keys(&self, cache: &str, access: CacheAccess) -> bool {
        match self {
            Permissions::SuperUser => true,
            Permissions::Explicit { caches, .. } => caches.iter().any(|g| {
                g.role.allows(access) && cache_matches(&g.cache, cache) && g.items == Selector::All
            }),
        }
    }

    /// May anything at all be done to the items of `cache` (used to refuse a cache choice up
    /// front, e.g. RESP `AUTH <cache> <token>`)?
    pub fn can_use_cache(&self, cache: &str) -> bool {
        match self {
            Permissions::SuperUser => true,
            Permissions::Explicit { caches, topics } => {
                caches.iter().any(|g| cache_matches(&g.cache, cache))
                    || topics.iter().any(|g| cache_matches(&g.cache, cache))
            }
        }
    }

    pub fn can_topic(&self, cache: &str, topic: &[u8], access: TopicAccess) -> bool {
        match self {
            Permissions::SuperUser => true,
            Permissions::Explicit { topics, .. } => topics.iter().any(|g| {
                g.role.allows(access) && cache_matches(&g.cache, cache) && g.topics.matches(topic)
            }),
        }
    }

    /// May the holder subscribe to every topic of `cache` (a pattern subscription can match any
    /// topic, so it needs all-topics permission)?
    pub fn can_topic_all(&self, cache: &str, access: TopicAccess) -> bool {
        match self {
            Permissions::SuperUser => true,
            Permissions::Explicit { topics, .. } => topics.iter().any(|g| {
                g.role.allows(access) && cache_matches(&g.cache, cache) && g.topics == Selector::All
            }),
        }
    }

    /// Read-write on every key of `cache`: lets a front end skip per-key checks.
    pub fn full_cache_access(&self, cache: &str) -> bool {
        self.can_cache_all_keys(cache, CacheAccess::ConditionalWrite)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(role: CacheRole, c: Option<&str>, items: Selector) -> CacheGrant {
        CacheGrant {
            role,
            cache: c.map(String::from),
            items,
        }
    }

    #[test]
    fn roles() {
        use CacheAccess::*;
        assert!(CacheRole::ReadWrite.allows(ConditionalWrite));
        assert!(CacheRole::ReadOnly.allows(Read));
        assert!(!CacheRole::ReadOnly.allows(Write));
        assert!(CacheRole::WriteOnly.allows(Write));
        assert!(!CacheRole::WriteOnly.allows(Read));
        assert!(!CacheRole::WriteOnly.allows(ConditionalWrite));
        assert!(TopicRole::SubscribeOnly.allows(TopicAccess::Subscribe));
        assert!(!TopicRole::SubscribeOnly.allows(TopicAccess::Publish));
        assert!(!TopicRole::PublishOnly.allows(TopicAccess::Subscribe));
    }

    #[test]
    fn union_and_scoping() {
        let p = Permissions::Explicit {
            caches: vec![
                cache(CacheRole::ReadOnly, Some("a"), Selector::All),
                cache(
                    CacheRole::ReadWrite,
                    Some("a"),
                    Selector::Prefix("user:1:".into()),
                ),
                cache(CacheRole::WriteOnly, None, Selector::Exact("log".into())),
            ],
            topics: vec![],
        };
        assert!(p.validate().is_ok());
        assert!(p.can_cache("a", b"anything", CacheAccess::Read));
        assert!(!p.can_cache("a", b"anything", CacheAccess::Write));
        assert!(p.can_cache("a", b"user:1:name", CacheAccess::ConditionalWrite));
        assert!(p.can_cache("zzz", b"log", CacheAccess::Write));
        assert!(!p.can_cache("zzz", b"log", CacheAccess::Read));
        assert!(!p.can_cache("b", b"user:1:name", CacheAccess::Read));
        assert!(p.can_cache_all_keys("a", CacheAccess::Read));
        assert!(!p.can_cache_all_keys("a", CacheAccess::Write));
        assert!(!p.full_cache_access("a"));
        assert!(p.can_use_cache("b")); // the all-caches grant
        assert!(!p.can_topic("a", b"t", TopicAccess::Subscribe));
    }

    #[test]
    fn validation() {
        let empty = Permissions::Explicit {
            caches: vec![],
            topics: vec![],
        };
        assert_eq!(empty.validate(), Err(PermissionError::Empty));
        let dup = Permissions::Explicit {
            caches: vec![
                cache(CacheRole::ReadOnly, Some("a"), Selector::All),
                cache(CacheRole::ReadOnly, Some("a"), Selector::All),
            ],
            topics: vec![],
        };
        assert!(matches!(dup.validate(), Err(PermissionError::Duplicate(_))));
        let conflict = Permissions::Explicit {
            caches: vec![
                cache(CacheRole::ReadOnly, Some("a"), Selector::All),
                cache(CacheRole::WriteOnly, Some("a"), Selector::All),
            ],
            topics: vec![],
        };
        assert!(matches!(
            conflict.validate(),
            Err(PermissionError::Conflicting(_))
        ));
        let blank = Permissions::Explicit {
            caches: vec![cache(CacheRole::ReadOnly, Some(""), Selector::All)],
            topics: vec![],
        };
        assert!(matches!(blank.validate(), Err(PermissionError::Invalid(_))));
        let many = Permissions::Explicit {
            caches: (0..21)
                .map(|i| cache(CacheRole::ReadOnly, Some(&format!("c{i}")), Selector::All))
                .collect(),
            topics: vec![],
        };
        assert_eq!(many.validate(), Err(PermissionError::TooMany));
    }
}
