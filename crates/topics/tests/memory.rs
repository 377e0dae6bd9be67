//! Retained messages charged to a memory account, trimmed under pressure, refused when the
//! account says no (issue 12, finding 4).

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use ferrite_topics::{
    retained_cost, MemoryAccount, MessageKind, Topics, TopicsConfig, TopicsError,
};

#[derive(Default)]
struct Account {
    used: AtomicI64,
    refuse: AtomicBool,
}

impl MemoryAccount for Account {
    fn charge(&self, delta: isize) {
        self.used.fetch_add(delta as i64, Ordering::Relaxed);
    }
    fn reserve(&self, _bytes: usize) -> bool {
        !self.refuse.load(Ordering::Relaxed)
    }
}

fn publish(t: &Topics, topic: &str, len: usize) -> Result<u64, TopicsError> {
    t.publish(
        b"c",
        topic.as_bytes(),
        Bytes::from(vec![b'x'; len]),
        MessageKind::Binary,
        None,
    )
    .map(|p| p.seq)
}

#[test]
fn retained_bytes_are_charged_trimmed_and_refused() {
    let t = Topics::new(TopicsConfig::default());
    // Retained before the account is wired: charged at once when it is.
    publish(&t, "early", 1000).unwrap();
    let acct = Arc::new(Account::default());
    t.set_memory_account(acct.clone());
    assert_eq!(
        acct.used.load(Ordering::Relaxed) as u64,
        retained_cost(1, 1000)
    );
    for i in 0..20 {
        publish(&t, &format!("t{}", i % 5), 10_000).unwrap();
    }
    let charged = acct.used.load(Ordering::Relaxed) as u64;
    assert_eq!(charged, t.retained_memory());
    assert_eq!(charged, retained_cost(21, 1000 + 20 * 10_000));

    // Pressure: the oldest messages of every topic go first, halving rings per pass.
    let freed = t.shrink_replay(50_000);
    assert!(freed >= 50_000, "freed {freed}");
    assert_eq!(
        acct.used.load(Ordering::Relaxed) as u64,
        t.retained_memory()
    );
    let m = t.metrics();
    assert!(m.retained_messages < 21 && m.retained_messages > 0);
    // Enough pressure empties everything.
    t.shrink_replay(u64::MAX);
    assert_eq!(t.retained_memory(), 0);
    assert_eq!(acct.used.load(Ordering::Relaxed), 0);

    // A refused reservation is an OOM error, counted, and retains nothing.
    acct.refuse.store(true, Ordering::Relaxed);
    assert_eq!(publish(&t, "t0", 10), Err(TopicsError::OutOfMemory));
    assert_eq!(t.metrics().rejected_memory, 1);
    assert_eq!(acct.used.load(Ordering::Relaxed), 0);
    acct.refuse.store(false, Ordering::Relaxed);
    // Sequences continue after the shed messages.
    assert_eq!(publish(&t, "t0", 10), Ok(5));
}
