//! Results of recent reads, each kept with the version of the database it was read at and used
//! only while that version is still current. The engines supply the version: SQLite's
//! `PRAGMA data_version` ([`crate::sqlite`]), PostgreSQL's data generation
//! ([`crate::changes`]). Either moves on with every commit, so an entry can never serve rows
//! older than the last write the version has seen.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use plexid_core::flights::Flights;

use crate::row::{Param, Row};

/// A statement and its parameters.
pub(crate) type Key = (String, Vec<Param>);

/// At most this many results are kept, holding at most [`ROWS`] rows in all; when either is
/// reached, those of old versions go first (then all).
const ENTRIES: usize = 1024;
/// The rows all kept results may hold: about 10 MB of typical rows. By entries alone the cache
/// could hold 200,000 rows (an admin paging through 100,000 users, or a list whose statement
/// names the current time and so never matches again).
const ROWS: usize = 20_000;
/// Larger results are not kept.
const MAX_ROWS: usize = 200;

/// The version a result was read at, and its rows.
type Entry = (u64, Arc<[Row]>);

/// The kept results and how many rows they hold.
#[derive(Default)]
struct Entries {
    map: HashMap<Key, Entry>,
    rows: usize,
}

impl Entries {
    fn keep(&mut self, key: Key, version: u64, rows: &[Row]) {
        if self.map.len() >= ENTRIES || self.rows + rows.len() > ROWS {
            self.map.retain(|_, (at, _)| *at == version);
            self.rows = self.map.values().map(|(_, kept)| kept.len()).sum();
            if self.map.len() >= ENTRIES || self.rows + rows.len() > ROWS {
                self.map.clear();
                self.rows = 0;
            }
        }
        self.rows += rows.len();
        if let Some((_, replaced)) = self.map.insert(key, (version, rows.into())) {
            self.rows -= replaced.len();
        }
    }
}

#[derive(Default)]
pub(crate) struct ReadCache {
    entries: Mutex<Entries>,
    /// One read of a key at a time: requests that miss together (after a change moved the
    /// version on) wait for the first one's rows instead of each running the statement, so an
    /// expensive list under load is read once per change, not once per waiting request.
    flights: Flights<Key, tokio::sync::Mutex<()>>,
    /// The same, for readers that block their thread while they wait.
    blocking_flights: Flights<Key, Mutex<()>>,
}

impl ReadCache {
    /// The rows of `key` read at `version`, if kept.
    pub(crate) fn get(&self, key: &Key, version: u64) -> Option<Vec<Row>> {
        let entries = self.entries.lock().ok()?;
        let (at, rows) = entries.map.get(key)?;
        (*at == version).then(|| rows.to_vec())
    }

    /// The rows of `key` at the version `version()` gives once no other read of `key` is under
    /// way: kept ones if they are of that version, else from `fetch` (then kept). Without a
    /// version (the feed is down) nothing is kept or used.
    pub(crate) async fn get_or_fetch<F, E>(
        &self,
        key: Key,
        version: impl Fn() -> Option<u64>,
        fetch: impl FnOnce(Vec<Param>) -> F,
    ) -> Result<Vec<Row>, E>
    where
        F: std::future::Future<Output = Result<Vec<Row>, E>>,
    {
        let flight = self.flights.join(&key);
        let _turn = flight.lock().await;
        let at = version();
        match at.and_then(|at| self.get(&key, at)) {
            Some(rows) => Ok(rows),
            None => fetch(key.1.clone()).await.inspect(|rows| {
                if let Some(at) = at {
                    self.put(key.clone(), at, rows);
                }
            }),
        }
    }

    /// [`ReadCache::get_or_fetch`] for a caller that may block its thread while another reads
    /// (SQLite's long reads, which run off the runtime's threads).
    pub(crate) fn get_or_read<E>(
        &self,
        key: Key,
        version: impl Fn() -> Result<u64, E>,
        read: impl FnOnce(&[Param]) -> Result<Vec<Row>, E>,
    ) -> Result<Vec<Row>, E> {
        let flight = self.blocking_flights.join(&key);
        let _turn = flight.lock().unwrap_or_else(|p| p.into_inner());
        version().and_then(|at| match self.get(&key, at) {
            Some(rows) => Ok(rows),
            None => read(&key.1).inspect(|rows| self.put(key.clone(), at, rows)),
        })
    }

    /// Keeps `rows`, read at `version` (which must have been taken before the read).
    pub(crate) fn put(&self, key: Key, version: u64, rows: &[Row]) {
        if rows.len() > MAX_ROWS {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            entries.keep(key, version, rows);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: usize) -> Vec<Row> {
        let row =
            Row::Lite(crate::row::LiteRow { columns: Arc::from(vec!["n".to_owned()]), values: Arc::from(vec![]) });
        vec![row; n]
    }

    #[test]
    fn the_rows_kept_are_bounded() {
        let cache = ReadCache::default();
        for n in 0..(2 * ROWS / MAX_ROWS) {
            cache.put(("SELECT".into(), vec![Param::Int(n as i64)]), 1, &rows(MAX_ROWS));
            let entries = cache.entries.lock().unwrap();
            assert!(entries.rows <= ROWS);
            assert_eq!(entries.rows, entries.map.values().map(|(_, kept)| kept.len()).sum::<usize>());
        }
        // The newest result is kept; replacing one counts its rows once.
        let last = ("SELECT".into(), vec![Param::Int((2 * ROWS / MAX_ROWS - 1) as i64)]);
        assert_eq!(cache.get(&last, 1).map(|r| r.len()), Some(MAX_ROWS));
        cache.put(last.clone(), 1, &rows(3));
        let entries = cache.entries.lock().unwrap();
        assert_eq!(entries.rows, entries.map.values().map(|(_, kept)| kept.len()).sum::<usize>());
    }

    #[test]
    fn old_versions_go_first() {
        let cache = ReadCache::default();
        for n in 0..(ROWS / MAX_ROWS - 1) {
            cache.put(("old".into(), vec![Param::Int(n as i64)]), 1, &rows(MAX_ROWS));
        }
        cache.put(("new".into(), vec![]), 2, &rows(MAX_ROWS));
        cache.put(("newer".into(), vec![]), 2, &rows(MAX_ROWS));
        assert!(cache.get(&("new".into(), vec![]), 2).is_some());
        assert!(cache.get(&("old".into(), vec![Param::Int(0)]), 1).is_none());
    }
}
