//! The service layer on real engines: the admission order every protocol relies on, metering
//! only through `Op::finish` / `Delivery`, and a delivery's token re-check and cache deletion.

use std::sync::Arc;

use bytes::Bytes;
use ferrite_auth::{
    Authenticator, CacheAccess, CacheGrant, CacheRole, Permissions, Selector, TopicAccess,
    TopicGrant, TopicRole,
};
use ferrite_service::{
    Auth, Counters, Limits, Metering, Need, Quotas, Render, Service, ServiceError,
};
use ferrite_storage::{SharedClock, Store, StoreConfig, SystemClock};
use ferrite_topics::{Message, MessageKind, Topics, TopicsConfig};

fn service(auth: Auth, quotas: &ferrite_config::QuotasConfig) -> Arc<Service> {
    let clock: SharedClock = Arc::new(SystemClock);
    let store = Store::new(StoreConfig::default(), clock);
    store.get_or_create("app");
    Service::new(
        store,
        Topics::new(TopicsConfig::default()),
        auth,
        Metering::new(64),
        Quotas::new(quotas),
        Limits::default(),
    )
}

fn token_mode() -> (Arc<Service>, Arc<Authenticator>) {
    let a = Arc::new(Authenticator::new(vec![9u8; 32]));
    let svc = service(
        Auth::with_authenticator(a.clone(), 3600),
        &ferrite_config::QuotasConfig::default(),
    );
    (svc, a)
}

fn mint(a: &Authenticator, id: &str, perms: Permissions) -> String {
    a.issue(perms, 600, Some(id.into()), ferrite_auth::now_secs())
        .unwrap()
        .0
}

fn reader_of(prefix: &str) -> Permissions {
    Permissions::Explicit {
        caches: vec![CacheGrant {
            role: CacheRole::ReadOnly,
            cache: Some("app".into()),
            items: Selector::Prefix(prefix.into()),
        }],
        topics: vec![TopicGrant {
            role: TopicRole::SubscribeOnly,
            cache: Some("app".into()),
            topics: Selector::All,
        }],
    }
}

fn figures(svc: &Service, token: &str) -> Counters {
    svc.metering
        .snapshot()
        .into_iter()
        .find(|(k, _)| &*k.token == token && &*k.cache == "app")
        .map(|(_, c)| c)
        .unwrap_or_default()
}

#[test]
fn a_token_is_required_and_checked_in_token_mode() {
    let (svc, a) = token_mode();
    for bad in [None, Some(""), Some("  "), Some("nonsense")] {
        assert!(
            matches!(svc.caller(bad), Err(ServiceError::Unauthenticated(_))),
            "{bad:?}"
        );
    }
    let c = svc.caller(Some(&mint(&a, "r1", reader_of("u:")))).unwrap();
    assert_eq!(&*c.tenant_token, "r1");
    assert_eq!(c.publisher_id.as_deref(), Some("r1"));
}

#[test]
fn permission_is_asked_before_the_cache_is_looked_up() {
    let (svc, a) = token_mode();
    let c = svc.caller(Some(&mint(&a, "r1", reader_of("u:")))).unwrap();
    // A stranger to a cache learns nothing of whether it exists.
    for cache in ["app", "no-such-cache"] {
        let e = svc
            .admit(&c, cache, Need::Key(CacheAccess::Write, b"u:1"))
            .err()
            .unwrap();
        assert!(matches!(e, ServiceError::Denied(_)), "{cache}: {e}");
    }
    assert!(matches!(
        svc.admit(&c, "app", Need::Key(CacheAccess::Read, b"other"))
            .err()
            .unwrap(),
        ServiceError::Denied(_)
    ));
    // A caller allowed everywhere is told a missing cache is not found.
    let root = svc
        .caller(Some(&mint(&a, "root", Permissions::SuperUser)))
        .unwrap();
    let e = svc
        .admit(&root, "no-such-cache", Need::Key(CacheAccess::Read, b"u:1"))
        .err();
    assert!(matches!(e, Some(ServiceError::CacheNotFound(_))));
    let op = svc
        .admit(&c, "app", Need::Key(CacheAccess::Read, b"u:1"))
        .unwrap();
    assert_eq!(op.get(b"u:1").unwrap(), None);
    op.finish(Counters::op(3, 0));
    assert_eq!(figures(&svc, "r1"), Counters::op(3, 0));
}

#[test]
fn topic_names_are_validated_first_and_missing_caches_are_not_found() {
    let svc = service(
        Auth::from_config(&ferrite_config::Config::default()).unwrap(),
        &ferrite_config::QuotasConfig::default(),
    );
    let c = svc.caller(None).unwrap();
    assert_eq!(&*c.tenant_token, "anonymous");
    for topic in [&b""[..], &[b't'; 256][..]] {
        assert!(matches!(
            svc.admit(&c, "app", Need::Topic(TopicAccess::Publish, topic))
                .err()
                .unwrap(),
            ServiceError::InvalidTopicName { .. }
        ));
    }
    assert!(matches!(
        svc.admit(&c, "nope", Need::Key(CacheAccess::Read, b"k"))
            .err()
            .unwrap(),
        ServiceError::CacheNotFound(_)
    ));
    assert!(matches!(
        svc.admit(&c, "", Need::Key(CacheAccess::Read, b"k"))
            .err()
            .unwrap(),
        ServiceError::InvalidArgument(_)
    ));
}

#[test]
fn a_refused_operation_is_not_metered() {
    let q = ferrite_config::QuotasConfig {
        token_ops_per_sec: 1,
        ..Default::default()
    };
    let svc = service(
        Auth::from_config(&ferrite_config::Config::default()).unwrap(),
        &q,
    );
    let c = svc.caller(None).unwrap();
    let op = svc
        .admit(&c, "app", Need::Key(CacheAccess::Write, b"k"))
        .unwrap();
    op.set(b"k", b"v", 60_000).unwrap();
    op.finish(Counters::op(2, 0));
    let e = svc
        .admit(&c, "app", Need::Key(CacheAccess::Write, b"k"))
        .err()
        .unwrap();
    assert!(matches!(e, ServiceError::Quota(_)), "{e}");
    assert_eq!(e.cause(), Some("operations_rate_limit_exceeded"));
    assert_eq!(figures(&svc, "anonymous"), Counters::op(2, 0));
}

#[test]
fn momento_limits_are_enforced_by_the_operations() {
    let svc = service(
        Auth::from_config(&ferrite_config::Config::default()).unwrap(),
        &ferrite_config::QuotasConfig::default(),
    );
    let c = svc.caller(None).unwrap();
    let op = svc
        .admit(&c, "app", Need::Key(CacheAccess::Write, b"k"))
        .unwrap();
    let max = svc.limits.max_item_bytes;
    assert!(matches!(
        op.set(b"k", &vec![0u8; max], 1000),
        Err(ServiceError::ItemTooLarge { .. })
    ));
    assert!(matches!(
        op.set(b"k", b"v", 0),
        Err(ServiceError::InvalidTtl { ttl_ms: 0, .. })
    ));
    op.set(b"k", b"12", 1000).unwrap();
    assert_eq!(op.increment(b"k", 30, 1000).unwrap(), 42);
    op.set(b"k", b"x", 1000).unwrap();
    assert!(matches!(
        op.increment(b"k", 1, 1000),
        Err(ServiceError::FailedPrecondition(_))
    ));
    op.finish(Counters::default());
}

/// Collects what a delivery hands over; each message is "sent" as its payload length.
#[derive(Default)]
struct Collect(Vec<String>);

impl Render for Collect {
    fn message(&mut self, msg: &Arc<Message>) -> u64 {
        self.0
            .push(String::from_utf8_lossy(&msg.payload).into_owned());
        msg.payload.len() as u64
    }
    fn discontinuity(&mut self, last_seq: u64, new_seq: u64, _page: u64) {
        self.0.push(format!("gap {last_seq}..{new_seq}"));
    }
}

#[test]
fn a_delivery_meters_per_batch_and_stops_with_the_token() {
    let (svc, a) = token_mode();
    let sub = svc.caller(Some(&mint(&a, "sub", reader_of("u:")))).unwrap();
    let pub_ = svc
        .caller(Some(&mint(&a, "pub", Permissions::SuperUser)))
        .unwrap();
    let op = svc
        .admit(&sub, "app", Need::Topic(TopicAccess::Subscribe, b"t"))
        .unwrap();
    let mut d = op.subscribe(&sub, b"t", None, 1).unwrap();
    let mut out = Collect::default();
    assert_eq!(d.next_batch(64, &mut out).unwrap(), 0);
    for m in ["hello", "world!"] {
        let op = svc
            .admit(&pub_, "app", Need::Topic(TopicAccess::Publish, b"t"))
            .unwrap();
        op.publish(
            b"t",
            Bytes::from(m),
            MessageKind::Text,
            pub_.publisher_id.clone(),
            7,
        )
        .unwrap();
    }
    assert_eq!(d.next_batch(64, &mut out).unwrap(), 2);
    assert_eq!(out.0, ["hello", "world!"]);
    let f = figures(&svc, "sub");
    assert_eq!(
        (f.operations, f.bytes_in, f.bytes_out, f.messages_delivered),
        (1, 1, 11, 2)
    );
    assert_eq!(figures(&svc, "pub").messages_published, 2);

    // Revoked: nothing more is handed over, and the delivery says why.
    a.revoke("sub").unwrap();
    let op = svc
        .admit(&pub_, "app", Need::Topic(TopicAccess::Publish, b"t"))
        .unwrap();
    op.publish(
        b"t",
        Bytes::from_static(b"late"),
        MessageKind::Text,
        None,
        4,
    )
    .unwrap();
    out.0.clear();
    assert!(matches!(
        d.next_batch(64, &mut out),
        Err(ServiceError::Unauthenticated(_))
    ));
    assert!(out.0.is_empty());
    assert_eq!(figures(&svc, "sub").messages_delivered, 2);
}

#[test]
fn a_deleted_cache_ends_a_delivery_after_the_messages_before_it() {
    let svc = service(
        Auth::from_config(&ferrite_config::Config::default()).unwrap(),
        &ferrite_config::QuotasConfig::default(),
    );
    let c = svc.caller(None).unwrap();
    let op = svc
        .admit(&c, "app", Need::Topic(TopicAccess::Subscribe, b"t"))
        .unwrap();
    let mut d = op.subscribe(&c, b"t", None, 1).unwrap();
    svc.topics
        .publish(
            b"app",
            b"t",
            Bytes::from_static(b"last"),
            MessageKind::Text,
            None,
        )
        .unwrap();
    svc.store.delete_cache("app").unwrap();
    svc.topics.drop_cache(b"app");
    let mut out = Collect::default();
    let first = d.next_batch(64, &mut out);
    // The engine may report the deletion before or after the message it had queued; either
    // way the message is handed over first and the deletion ends the delivery.
    match first {
        Ok(1) => {
            assert_eq!(out.0, ["last"]);
            assert!(matches!(
                d.next_batch(64, &mut out),
                Err(ServiceError::CacheNotFound(_))
            ));
        }
        Err(ServiceError::CacheNotFound(name)) => assert_eq!(name, "app"),
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(
        d.next_batch(64, &mut out),
        Err(ServiceError::CacheNotFound(_))
    ));
}
