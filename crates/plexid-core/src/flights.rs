//! One run at a time per key: callers that want the same thing at once (a list after a commit,
//! an owner's facts from plex.tv) take turns on that key's lock, so the first one does the work
//! and the ones after it find its result. Used by the read cache and the plex.tv owner cache.

use std::collections::HashMap;
use std::hash::Hash;
use std::ops::Deref;
use std::sync::{Arc, Mutex};

/// The locks of the keys being worked on; `L` is the lock (an async or a blocking mutex).
pub struct Flights<K, L> {
    locks: Mutex<HashMap<K, Arc<L>>>,
}

impl<K, L> Default for Flights<K, L> {
    fn default() -> Self {
        Flights { locks: Mutex::new(HashMap::new()) }
    }
}

impl<K: Hash + Eq + Clone, L: Default> Flights<K, L> {
    /// The lock of `key` (made when nobody holds or waits for it); given up when the returned
    /// [`Flight`] is dropped.
    pub fn join(&self, key: &K) -> Flight<'_, K, L> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        let lock = Arc::clone(locks.entry(key.clone()).or_default());
        Flight { flights: self, key: key.clone(), lock }
    }
}

/// A caller's place on a key's lock (dereferences to the lock).
pub struct Flight<'a, K: Hash + Eq, L> {
    flights: &'a Flights<K, L>,
    key: K,
    lock: Arc<L>,
}

impl<K: Hash + Eq, L> Deref for Flight<'_, K, L> {
    type Target = L;

    fn deref(&self) -> &L {
        &self.lock
    }
}

impl<K: Hash + Eq, L> Drop for Flight<'_, K, L> {
    fn drop(&mut self) {
        let mut locks = self.flights.locks.lock().unwrap_or_else(|p| p.into_inner());
        // Only the map's and ours: nobody else holds or waits for it, so the entry goes.
        if Arc::strong_count(&self.lock) == 2 {
            locks.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_shares_one_lock_until_the_last_caller_leaves() {
        let flights: Flights<&str, Mutex<u32>> = Flights::default();
        let first = flights.join(&"k");
        let second = flights.join(&"k");
        *first.lock().unwrap() += 1;
        assert_eq!(*second.lock().unwrap(), 1, "the same lock");
        assert!(!Arc::ptr_eq(&flights.join(&"other").lock, &first.lock));
        drop(first);
        assert_eq!(flights.locks.lock().unwrap().len(), 1, "kept while someone is on it");
        drop(second);
        assert!(flights.locks.lock().unwrap().is_empty(), "gone with the last");
    }
}
