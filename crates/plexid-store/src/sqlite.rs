//! SQLite through rusqlite, called directly. SQLite is an in-process library: a read of a row
//! takes microseconds, less than handing it to another thread would cost, so single-row reads
//! run on the calling task, and never wait there: on the runtime a reader does not wait for a
//! lock (a checkpoint, another process's exclusive lock); a read that finds the database busy is
//! run again off the runtime's threads (`block_in_place`), where it may wait up to the busy
//! timeout. Reads of many rows (lists, the access sweep's snapshot) run off the runtime's
//! threads from the start. Reads use a small pool of connections (WAL lets them run beside the
//! writer) and a read cache; writes go through the one write connection, held for a whole
//! transaction.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::types::Value as LiteValue;

use crate::error::{StoreError, StoreResult};
use crate::row::{LiteRow, Param, Row};

/// The SQLite database: a write connection, a pool of read connections and a read cache.
pub struct SqliteDb {
    path: PathBuf,
    pub(crate) readers: std::sync::Mutex<Vec<rusqlite::Connection>>,
    pub(crate) writer: Arc<tokio::sync::Mutex<rusqlite::Connection>>,
    cache: ReadCache,
    /// `?read_cache=off` in the URL turns the cache off (to measure or debug).
    read_cache: bool,
    long_reads: LongReads,
}

/// The read cache, and the generation it and the auth caches (`Store::auth_generation`) are
/// kept under. The generation moves on whenever this instance commits and whenever
/// `PRAGMA data_version`, read on a connection of its own, changes: it changes whenever any other
/// connection (our writer, or another process using the same file) has committed. Each read of
/// the generation checks `data_version` (one statement: a shared lock on the file taken and
/// dropped, two system calls, and the WAL index read in shared memory), so another process's
/// commit is seen by the first check after it.
struct ReadCache {
    watch: std::sync::Mutex<Watch>,
    entries: crate::read_cache::ReadCache,
}

/// The watching connection, the last `data_version` it read and the generation.
struct Watch {
    conn: rusqlite::Connection,
    seen: i64,
    generation: u64,
}

impl ReadCache {
    fn watch(&self) -> StoreResult<std::sync::MutexGuard<'_, Watch>> {
        self.watch.lock().map_err(|_| StoreError::Corrupt("cache watch poisoned".into()))
    }

    /// The current generation (checked against `data_version` under the lock, so no caller
    /// gets an older generation after another has seen a change).
    fn generation(&self) -> StoreResult<u64> {
        let mut watch = self.watch()?;
        let version = watch.conn.prepare_cached("PRAGMA data_version")?.query_row([], |r| r.get::<_, i64>(0))?;
        if version != watch.seen {
            watch.seen = version;
            watch.generation += 1;
        }
        Ok(watch.generation)
    }

    /// This instance committed: nothing read before may be used.
    fn bump(&self) {
        if let Ok(mut watch) = self.watch() {
            watch.generation += 1;
        }
    }
}

const SQLITE_READERS: usize = 8;
const STATEMENT_CACHE: usize = 128;
/// How long a statement waits for a lock (off the runtime's threads) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Turns for long reads (lists, counts, the sweep's pages): each holds a connection whose page
/// cache and sorter fill while it runs, so 32 list requests at once held 32 connections and as
/// much memory, for no speed the machine's cores could give. Twice the cores run at once; the
/// others wait their turn.
struct LongReads {
    free: std::sync::Mutex<usize>,
    freed: std::sync::Condvar,
}

impl Default for LongReads {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        LongReads { free: std::sync::Mutex::new((2 * cores).max(2)), freed: std::sync::Condvar::new() }
    }
}

impl LongReads {
    /// Waits for a turn (blocking the thread: callers are off the runtime's threads, and a turn
    /// is held only through a synchronous read, never across an await).
    fn take(&self) -> LongRead<'_> {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|p| p.into_inner());
        }
        *free -= 1;
        LongRead(self)
    }
}

/// A long read's turn, given back when dropped.
struct LongRead<'a>(&'a LongReads);

impl Drop for LongRead<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.0.freed.notify_one();
    }
}

fn configure(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // SQLite's own lower() folds ASCII only; PostgreSQL's folds every letter. One behaviour:
    // searches (`LOWER(column) LIKE …`) find "Émile" by "émile" on both.
    conn.create_scalar_function(
        "lower",
        1,
        rusqlite::functions::FunctionFlags::SQLITE_UTF8 | rusqlite::functions::FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| Ok(ctx.get::<Option<String>>(0)?.map(|text| text.to_lowercase())),
    )?;
    Ok(())
}

/// The file of a `sqlite://PATH?options` URL (`None` for another kind of URL).
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    Some(PathBuf::from(rest.split_once('?').map_or(rest, |(path, _)| path)))
}

/// Did a statement fail because the database was locked?
fn is_busy(error: &StoreError) -> bool {
    matches!(error, StoreError::Sqlite(rusqlite::Error::SqliteFailure(failure, _))
        if matches!(failure.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
}

impl SqliteDb {
    pub(crate) fn open(url: &str) -> StoreResult<SqliteDb> {
        let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
        let options = rest.split_once('?').map_or("", |(_, options)| options);
        let path = sqlite_path(url).unwrap_or_default();
        let read_cache = match options.split('&').find_map(|o| o.strip_prefix("read_cache=")) {
            None | Some("on") => true,
            Some("off") => false,
            Some(other) => return Err(StoreError::Config(format!("read_cache must be on or off, not {other:?}"))),
        };
        // Durable by default: a commit is on disk before it is acknowledged, so a 201 survives a
        // power failure. `synchronous=normal` trades the last commits before a power failure
        // (never corruption, in WAL mode) for speed.
        let synchronous = match options.split('&').find_map(|o| o.strip_prefix("synchronous=")) {
            None | Some("full") => "FULL",
            Some("normal") => "NORMAL",
            Some(other) => {
                return Err(StoreError::Config(format!("synchronous must be full or normal, not {other:?}")))
            }
        };
        if path.as_os_str().is_empty() || rest.starts_with(":memory:") {
            return Err(StoreError::Config(
                "use sqlite://PATH with a file path (in-memory databases are not supported)".into(),
            ));
        }
        let writer = rusqlite::Connection::open(&path)
            .map_err(|e| StoreError::Config(format!("cannot open SQLite database {}: {e}", path.display())))?;
        configure(&writer)?;
        writer.pragma_update(None, "journal_mode", "WAL")?;
        writer.pragma_update(None, "synchronous", synchronous)?;
        let watch = rusqlite::Connection::open(&path)?;
        watch.pragma_update(None, "query_only", "ON")?;
        Ok(SqliteDb {
            path,
            readers: std::sync::Mutex::new(Vec::new()),
            writer: Arc::new(tokio::sync::Mutex::new(writer)),
            cache: ReadCache {
                watch: std::sync::Mutex::new(Watch { conn: watch, seen: -1, generation: 0 }),
                entries: Default::default(),
            },
            read_cache,
            long_reads: LongReads::default(),
        })
    }

    /// A read through the cache. A read of one row runs on the calling thread unless the
    /// database is busy; a read of many runs off the runtime's threads.
    pub(crate) fn cached_fetch(&self, sql: &str, params: Vec<Param>, limit: Option<usize>) -> StoreResult<Vec<Row>> {
        let long = limit.is_none();
        if !self.read_cache {
            return self.read(long, |conn| lite_fetch(conn, sql, &params, limit));
        }
        let version = self.cache.generation()?;
        let key = (sql.to_owned(), params);
        let rows = match self.cache.entries.get(&key, version) {
            Some(rows) => rows,
            // A list or count that several requests miss together (after a commit) is read
            // once: the others wait for its rows, off the runtime's threads.
            None if long => crate::engine::off_runtime(|| {
                self.cache.entries.get_or_read(
                    key,
                    || self.cache.generation(),
                    |params| self.read(true, |conn| lite_fetch(conn, sql, params, None)),
                )
            })?,
            None => {
                let rows = self.read(long, |conn| lite_fetch(conn, sql, &key.1, None))?;
                self.cache.entries.put(key, version, &rows);
                rows
            }
        };
        Ok(match limit {
            Some(l) => rows.into_iter().take(l).collect(),
            None => rows,
        })
    }

    /// The generation of the database's contents (see [`ReadCache`]): what was read under it
    /// may be used while it stands.
    pub(crate) fn generation(&self) -> StoreResult<u64> {
        self.cache.generation()
    }

    /// This instance committed a write.
    pub(crate) fn committed(&self) {
        self.cache.bump();
    }

    /// Is the database answering? A read on a reader, never from the cache.
    pub(crate) fn ping(&self) -> bool {
        self.read(false, |conn| lite_fetch(conn, "SELECT 1 AS one", &[], Some(1))).is_ok()
    }

    /// Runs `f` on a read connection from the pool (opening one if none is free): off the
    /// runtime's threads when `long`; otherwise on this thread without waiting for locks, and
    /// again off the runtime's threads if the database was busy.
    ///
    /// At most [`LongReads`]' number of long reads run at once; the others wait their turn
    /// (off the runtime's threads) before they take a connection.
    pub(crate) fn read<T>(&self, long: bool, f: impl Fn(&rusqlite::Connection) -> StoreResult<T>) -> StoreResult<T> {
        // Waits for locks: only ever off the runtime's threads.
        let patient = |conn: &rusqlite::Connection| {
            conn.busy_timeout(BUSY_TIMEOUT)?;
            f(conn)
        };
        if long {
            return crate::engine::off_runtime(|| {
                let _turn = self.long_reads.take();
                let conn = self.reader()?;
                let result = patient(&conn);
                self.give_back(conn);
                result
            });
        }
        let conn = self.reader()?;
        let result = match conn.busy_timeout(Duration::ZERO).map_err(StoreError::from).and_then(|()| f(&conn)) {
            Err(error) if is_busy(&error) => crate::engine::off_runtime(|| patient(&conn)),
            other => other,
        };
        self.give_back(conn);
        result
    }

    /// Returns a read connection to the pool (closed when the pool is full).
    fn give_back(&self, conn: rusqlite::Connection) {
        if let Ok(mut readers) = self.readers.lock() {
            if readers.len() < SQLITE_READERS {
                readers.push(conn);
            }
        }
    }

    /// A read connection from the pool, or a new one.
    fn reader(&self) -> StoreResult<rusqlite::Connection> {
        let pooled = self.readers.lock().map_err(|_| StoreError::Corrupt("reader pool poisoned".into()))?.pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => {
                // Opened read-write but `query_only`: a SQLITE_OPEN_READ_ONLY connection maps the
                // WAL index read-only, which makes SQLite re-read the schema and re-prepare every
                // statement in every transaction (measured: 4x slower lists).
                let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
                let conn = rusqlite::Connection::open_with_flags(&self.path, flags)?;
                configure(&conn)?;
                conn.pragma_update(None, "query_only", "ON")?;
                conn
            }
        };
        Ok(conn)
    }
}

/// Binds `params` to a statement whose placeholders are `$n` (SQLite numbers named parameters
/// in order of appearance, so each is looked up by its name).
fn bind_lite(stmt: &mut rusqlite::Statement<'_>, params: &[Param]) -> StoreResult<()> {
    for index in 1..=stmt.parameter_count() {
        let name = stmt.parameter_name(index).unwrap_or("");
        let n: usize = name
            .trim_start_matches(['$', '?'])
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("unsupported placeholder {name:?}")))?;
        let param = params.get(n - 1).ok_or_else(|| StoreError::Corrupt(format!("no value for {name}")))?;
        match param {
            Param::Text(v) => stmt.raw_bind_parameter(index, v)?,
            Param::OptText(v) => stmt.raw_bind_parameter(index, v)?,
            Param::Int(v) => stmt.raw_bind_parameter(index, v)?,
            Param::OptInt(v) => stmt.raw_bind_parameter(index, v)?,
            Param::Bool(v) => stmt.raw_bind_parameter(index, v)?,
        }
    }
    Ok(())
}

pub(crate) fn lite_fetch(
    conn: &rusqlite::Connection,
    sql: &str,
    params: &[Param],
    limit: Option<usize>,
) -> StoreResult<Vec<Row>> {
    let mut stmt = conn.prepare_cached(sql)?;
    bind_lite(&mut stmt, params)?;
    let columns: Arc<[String]> = stmt.column_names().into_iter().map(str::to_owned).collect();
    let width = columns.len();
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let values = (0..width).map(|i| row.get::<_, LiteValue>(i)).collect::<rusqlite::Result<Arc<[_]>>>()?;
        out.push(Row::Lite(LiteRow { columns: Arc::clone(&columns), values }));
        if limit.is_some_and(|l| out.len() >= l) {
            break;
        }
    }
    Ok(out)
}

pub(crate) fn lite_execute(conn: &rusqlite::Connection, sql: &str, params: &[Param]) -> StoreResult<u64> {
    let mut stmt = conn.prepare_cached(sql)?;
    bind_lite(&mut stmt, params)?;
    Ok(stmt.raw_execute()? as u64)
}

/// A SQLite write transaction: the write connection, held until commit or drop (which rolls back).
pub struct SqliteTx {
    pub(crate) conn: tokio::sync::OwnedMutexGuard<rusqlite::Connection>,
    pub(crate) open: bool,
    /// Told when the transaction commits.
    pub(crate) db: Arc<SqliteDb>,
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        if self.open {
            if let Err(error) = self.conn.execute_batch("ROLLBACK") {
                tracing::error!(%error, "rolling back a SQLite transaction failed");
            }
        }
    }
}

#[cfg(test)]
mod long_read_tests {
    use super::*;

    #[test]
    fn long_reads_wait_for_a_free_turn() {
        let turns = Arc::new(LongReads { free: std::sync::Mutex::new(2), freed: std::sync::Condvar::new() });
        let (first, second) = (turns.take(), turns.take());
        let (got_turn, turn_taken) = std::sync::mpsc::channel();
        let waiting = {
            let turns = Arc::clone(&turns);
            std::thread::spawn(move || {
                let _third = turns.take();
                got_turn.send(()).unwrap();
            })
        };
        assert!(turn_taken.recv_timeout(Duration::from_millis(100)).is_err(), "a third read waits while two run");
        drop(first);
        turn_taken.recv().unwrap();
        waiting.join().unwrap();
        drop(second);
        assert_eq!(*turns.free.lock().unwrap(), 2, "every turn is given back");
    }
}
