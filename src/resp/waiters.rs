//! Wake-ups for blocked list commands (BLPOP, BRPOP, BLMOVE).
//!
//! A blocked client registers one `Notify` under every key it waits on; a push to that key
//! wakes all of them and each retries its pop (the loser goes back to waiting). Writers pay one
//! relaxed atomic load when nobody is blocked anywhere.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::Notify;

type WaitKey = (Arc<str>, Bytes);

#[derive(Default)]
pub struct KeyWaiters {
    blocked: AtomicUsize,
    map: Mutex<HashMap<WaitKey, Vec<Arc<Notify>>>>,
}

impl KeyWaiters {
    pub fn register(&self, cache: &Arc<str>, keys: &[Bytes], n: &Arc<Notify>) {
        let mut map = self.map.lock();
        for k in keys {
            map.entry((cache.clone(), k.clone()))
                .or_default()
                .push(n.clone());
        }
        self.blocked.fetch_add(1, Ordering::SeqCst);
    }

    pub fn unregister(&self, cache: &Arc<str>, keys: &[Bytes], n: &Arc<Notify>) {
        let mut map = self.map.lock();
        for k in keys {
            let wk = (cache.clone(), k.clone());
            if let Some(v) = map.get_mut(&wk) {
                v.retain(|x| !Arc::ptr_eq(x, n));
                if v.is_empty() {
                    map.remove(&wk);
                }
            }
        }
        self.blocked.fetch_sub(1, Ordering::SeqCst);
    }

    #[inline]
    pub fn signal(&self, cache: &str, key: &[u8]) {
        if self.blocked.load(Ordering::SeqCst) == 0 {
            return;
        }
        let map = self.map.lock();
        let wk: WaitKey = (Arc::from(cache), Bytes::copy_from_slice(key));
        if let Some(v) = map.get(&wk) {
            for n in v {
                n.notify_one();
            }
        }
    }

    pub fn blocked_clients(&self) -> usize {
        self.blocked.load(Ordering::Relaxed)
    }
}
