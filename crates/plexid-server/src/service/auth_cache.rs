//! A cache of who an API token or session key authenticates, so a signed request on a warm
//! instance costs no database round trip for its credentials. An entry is used only under the
//! change generation it was read at (`Store::auth_generation`: on PostgreSQL every instance
//! hears every change to tokens, users, groups, memberships, permissions and sessions); without
//! a generation (SQLite, or a PostgreSQL listener that is down) nothing is cached. The same
//! holds for what forward-auth and the OpenID Connect provider keep (applications by host,
//! forward-auth sessions, signing keys): their tables notify too.

use std::collections::HashMap;
use std::sync::Mutex;

/// Above this many entries the cache starts over (it only saves round trips).
const MAX_ENTRIES: usize = 10_000;

pub struct AuthCache<V> {
    entries: Mutex<HashMap<String, (u64, V)>>,
}

impl<V: Clone> Default for AuthCache<V> {
    fn default() -> Self {
        AuthCache { entries: Mutex::new(HashMap::new()) }
    }
}

impl<V: Clone> AuthCache<V> {
    /// The entry for `key` read under `generation`, if that is still the generation.
    pub fn get(&self, key: &str, generation: Option<u64>) -> Option<V> {
        let generation = generation?;
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.get(key).filter(|(at, _)| *at == generation).map(|(_, v)| v.clone())
    }

    /// Keeps `value` for `key`, read under `generation` (taken before the read).
    pub fn put(&self, key: &str, generation: Option<u64>, value: V) {
        let Some(generation) = generation else { return };
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (at, _)| *at == generation);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key.to_owned(), (generation, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_live_only_in_their_generation() {
        let cache = AuthCache::default();
        cache.put("k", Some(1), "v");
        assert_eq!(cache.get("k", Some(1)), Some("v"));
        assert_eq!(cache.get("k", Some(2)), None, "something changed since");
        assert_eq!(cache.get("k", None), None, "no feed, no cache");
        cache.put("n", None, "x");
        assert_eq!(cache.get("n", Some(1)), None);
    }
}
