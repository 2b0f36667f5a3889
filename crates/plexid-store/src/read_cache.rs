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
}

impl ReadCache {
    /// The rows of `key` read at `version`, if kept.
    pub(crate) fn get(&self, key: &Key, version: u64) -> Option<Vec<Row>> {
        let entries = self.entries.lock().ok()?;
        let (at, rows) = entries.get(key)?;
        (*at == version).then(|| rows.to_vec())
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
