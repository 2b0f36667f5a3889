//! Results of recent reads, each kept with the version of the database it was read at and used
//! only while that version is still current. The engines supply the version: SQLite's
//! `PRAGMA data_version` ([`crate::sqlite`]), PostgreSQL's data generation
//! ([`crate::changes`]). Either moves on with every commit, so an entry can never serve rows
//! older than the last write the version has seen.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::row::{Param, Row};

/// A statement and its parameters.
pub(crate) type Key = (String, Vec<Param>);

/// At most this many results are kept; when full, those of old versions go first.
const ENTRIES: usize = 1024;
/// Larger results are not kept.
const MAX_ROWS: usize = 200;

/// The version a result was read at, and its rows.
type Entry = (u64, Arc<[Row]>);

#[derive(Default)]
pub(crate) struct ReadCache {
    entries: Mutex<HashMap<Key, Entry>>,
    /// One read of a key at a time: requests that miss together (after a change moved the
    /// version on) wait for the first one's rows instead of each running the statement, so an
    /// expensive list under load is read once per change, not once per waiting request.
    flights: Mutex<HashMap<Key, Arc<tokio::sync::Mutex<()>>>>,
}

impl ReadCache {
    /// The rows of `key` read at `version`, if kept.
    pub(crate) fn get(&self, key: &Key, version: u64) -> Option<Vec<Row>> {
        let entries = self.entries.lock().ok()?;
        let (at, rows) = entries.get(key)?;
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
        let flight = {
            let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(flights.entry(key.clone()).or_default())
        };
        let turn = flight.lock().await;
        let at = version();
        let result = match at.and_then(|at| self.get(&key, at)) {
            Some(rows) => Ok(rows),
            None => fetch(key.1.clone()).await.inspect(|rows| {
                if let Some(at) = at {
                    self.put(key.clone(), at, rows);
                }
            }),
        };
        drop(turn);
        let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
        // Only the map's and ours: nobody else waits, so the entry goes.
        if Arc::strong_count(&flight) == 2 {
            flights.remove(&key);
        }
        result
    }

    /// Keeps `rows`, read at `version` (which must have been taken before the read).
    pub(crate) fn put(&self, key: Key, version: u64, rows: &[Row]) {
        if rows.len() > MAX_ROWS {
            return;
        }
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= ENTRIES {
                entries.retain(|_, (at, _)| *at == version);
                if entries.len() >= ENTRIES {
                    entries.clear();
                }
            }
            entries.insert(key, (version, rows.into()));
        }
    }
}
