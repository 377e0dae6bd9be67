//! Property: a key-prefix (or topic-prefix) scoped token allows exactly the names that start
//! with its prefix, in its cache only, and only for the accesses its role allows.

use ferrite_auth::*;
use proptest::prelude::*;

fn role() -> impl Strategy<Value = CacheRole> {
    prop_oneof![
        Just(CacheRole::ReadWrite),
        Just(CacheRole::ReadOnly),
        Just(CacheRole::WriteOnly)
    ]
}

fn access() -> impl Strategy<Value = CacheAccess> {
    prop_oneof![
        Just(CacheAccess::Read),
        Just(CacheAccess::Write),
        Just(CacheAccess::ConditionalWrite)
    ]
}

proptest! {
    #[test]
    fn key_prefix_scoping(prefix in "[a-c:]{1,4}", key in proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), Just(b'c'), Just(b':'), any::<u8>()], 0..8),
                          cache in "[xy]", role in role(), access in access()) {
        let p = Permissions::Explicit {
            caches: vec![CacheGrant { role, cache: Some("x".into()), items: Selector::Prefix(prefix.clone()) }],
            topics: vec![],
        };
        let expected = cache == "x" && key.starts_with(prefix.as_bytes()) && role.allows(access);
        prop_assert_eq!(p.can_cache(&cache, &key, access), expected);
        // a prefix grant never covers the whole keyspace
        prop_assert!(!p.can_cache_all_keys(&cache, access));
        // and an authenticated principal answers the same as the bare permissions
        let a = Authenticator::new(vec![9; 32]);
        let (jwt, _) = a.issue(p.clone(), 60, None, 100).unwrap();
        let principal = a.authenticate(&jwt, 100).unwrap();
        prop_assert_eq!(principal.can_cache(&cache, &key, access), expected);
    }

    #[test]
    fn topic_prefix_scoping(prefix in "[a-c]{1,3}", topic in "[a-c]{0,5}", publish in any::<bool>()) {
        let p = Permissions::Explicit {
            caches: vec![],
            topics: vec![TopicGrant { role: TopicRole::PublishOnly, cache: None, topics: Selector::Prefix(prefix.clone()) }],
        };
        let access = if publish { TopicAccess::Publish } else { TopicAccess::Subscribe };
        prop_assert_eq!(p.can_topic("any", topic.as_bytes(), access), publish && topic.starts_with(&prefix));
    }
}
