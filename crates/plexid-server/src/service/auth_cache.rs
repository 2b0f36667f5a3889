//! A cache of who an API token or session key authenticates, so a signed request on a warm
//! instance costs no database round trip for its credentials. An entry is used only under the
//! change generation it was read at (`Store::auth_generation`), and never after [`MAX_AGE`],
//! whatever the generation says: a backstop should a change ever go unseen. On PostgreSQL every
//! instance hears every change to tokens, users, groups, memberships, permissions and sessions,
//! and the generation exists only while the instance's listener has proven, within the last
//! seconds, that it hears (see `plexid_store::changes`); without it nothing is cached. On SQLite
//! the generation moves on with every commit to the database file, by this process or another,
//! checked through `PRAGMA data_version` each time it is read. The same holds for what
//! forward-auth and the OpenID Connect provider keep (applications by host, forward-auth
//! sessions, signing keys): their tables notify too.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Above this many entries the cache starts over (it only saves round trips).
const MAX_ENTRIES: usize = 10_000;

/// An entry is read again from the database after this long, even in the same generation.
pub const MAX_AGE: Duration = Duration::from_secs(10);

/// The generation an entry was read under, when, and the value.
type Entry<V> = (u64, Instant, V);

pub struct AuthCache<V> {
    entries: Mutex<HashMap<String, Entry<V>>>,
}

impl<V: Clone> Default for AuthCache<V> {
    fn default() -> Self {
        AuthCache { entries: Mutex::new(HashMap::new()) }
    }
}

impl<V: Clone> AuthCache<V> {
    /// The entry for `key` read under `generation`, if that is still the generation and the
    /// entry is younger than [`MAX_AGE`].
    pub fn get(&self, key: &str, generation: Option<u64>) -> Option<V> {
        self.get_at(key, generation, Instant::now())
    }

    fn get_at(&self, key: &str, generation: Option<u64>, now: Instant) -> Option<V> {
        let generation = generation?;
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .filter(|(at, read, _)| *at == generation && now.saturating_duration_since(*read) < MAX_AGE)
            .map(|(_, _, v)| v.clone())
    }

    /// Keeps `value` for `key`, read under `generation` (taken before the read).
    pub fn put(&self, key: &str, generation: Option<u64>, value: V) {
        let Some(generation) = generation else { return };
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (at, read, _)| *at == generation && now.saturating_duration_since(*read) < MAX_AGE);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key.to_owned(), (generation, now, value));
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

    #[test]
    fn entries_expire_after_the_maximum_age_whatever_the_generation() {
        let cache = AuthCache::default();
        cache.put("k", Some(1), "v");
        let now = Instant::now();
        assert_eq!(cache.get_at("k", Some(1), now + MAX_AGE - Duration::from_millis(10)), Some("v"));
        assert_eq!(cache.get_at("k", Some(1), now + MAX_AGE + Duration::from_millis(10)), None);
    }
}
