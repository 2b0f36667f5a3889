//! The one place that knows there are two database engines. Everything above it writes its
//! SQL once (`$1` placeholders work on both) and runs it through [`Conn`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::types::Value as LiteValue;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{PgConnection, PgPool, Row as _};

use crate::error::{StoreError, StoreResult};

/// A value bound to a `$n` placeholder. Nulls carry their type so PostgreSQL can infer it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Param {
    Text(String),
    OptText(Option<String>),
    Int(i64),
    OptInt(Option<i64>),
    Bool(bool),
}

impl From<&str> for Param {
    fn from(v: &str) -> Self {
        Param::Text(v.to_owned())
    }
}
impl From<String> for Param {
    fn from(v: String) -> Self {
        Param::Text(v)
    }
}
impl From<Option<String>> for Param {
    fn from(v: Option<String>) -> Self {
        Param::OptText(v)
    }
}
impl From<i64> for Param {
    fn from(v: i64) -> Self {
        Param::Int(v)
    }
}
impl From<Option<i64>> for Param {
    fn from(v: Option<i64>) -> Self {
        Param::OptInt(v)
    }
}
impl From<bool> for Param {
    fn from(v: bool) -> Self {
        Param::Bool(v)
    }
}
impl From<uuid::Uuid> for Param {
    fn from(v: uuid::Uuid) -> Self {
        Param::Text(v.to_string())
    }
}
impl From<Option<uuid::Uuid>> for Param {
    fn from(v: Option<uuid::Uuid>) -> Self {
        Param::OptText(v.map(|u| u.to_string()))
    }
}

/// `params![a, b]` builds a `Vec<Param>`.
#[macro_export]
macro_rules! params {
    ($($value:expr),* $(,)?) => { vec![$($crate::db::Param::from($value)),*] };
}

/// A SQLite result row, copied out of the statement (cheap to clone).
#[derive(Clone)]
pub struct LiteRow {
    columns: Arc<[String]>,
    values: Arc<[rusqlite::types::Value]>,
}

/// A result row of either engine, read by column name.
pub enum Row {
    Lite(LiteRow),
    Pg(PgRow),
}

fn mismatch(col: &str, expected: &str, got: &LiteValue) -> StoreError {
    StoreError::Corrupt(format!("column {col}: expected {expected}, found {got:?}"))
}

impl LiteRow {
    fn get(&self, col: &str) -> StoreResult<&LiteValue> {
        self.columns
            .iter()
            .position(|c| c == col)
            .map(|i| &self.values[i])
            .ok_or_else(|| StoreError::Corrupt(format!("no column {col}")))
    }

    fn opt_text(&self, col: &str) -> StoreResult<Option<String>> {
        match self.get(col)? {
            LiteValue::Null => Ok(None),
            LiteValue::Text(t) => Ok(Some(t.clone())),
            other => Err(mismatch(col, "text", other)),
        }
    }

    fn opt_int(&self, col: &str) -> StoreResult<Option<i64>> {
        match self.get(col)? {
            LiteValue::Null => Ok(None),
            LiteValue::Integer(i) => Ok(Some(*i)),
            other => Err(mismatch(col, "integer", other)),
        }
    }
}

macro_rules! column {
    ($self:expr, $col:expr, $ty:ty) => {
        match $self {
            Row::Lite(_) => unreachable!(),
            Row::Pg(r) => r.try_get::<$ty, _>($col).map_err(StoreError::from),
        }
    };
}

fn required<T>(col: &str, value: Option<T>) -> StoreResult<T> {
    value.ok_or_else(|| StoreError::Corrupt(format!("column {col} is null")))
}

impl Row {
    pub fn text(&self, col: &str) -> StoreResult<String> {
        match self {
            Row::Lite(r) => required(col, r.opt_text(col)?),
            _ => column!(self, col, String),
        }
    }
    pub fn opt_text(&self, col: &str) -> StoreResult<Option<String>> {
        match self {
            Row::Lite(r) => r.opt_text(col),
            _ => column!(self, col, Option<String>),
        }
    }
    pub fn int(&self, col: &str) -> StoreResult<i64> {
        match self {
            Row::Lite(r) => required(col, r.opt_int(col)?),
            _ => column!(self, col, i64),
        }
    }
    pub fn opt_int(&self, col: &str) -> StoreResult<Option<i64>> {
        match self {
            Row::Lite(r) => r.opt_int(col),
            _ => column!(self, col, Option<i64>),
        }
    }
    pub fn boolean(&self, col: &str) -> StoreResult<bool> {
        match self {
            Row::Lite(r) => Ok(required(col, r.opt_int(col)?)? != 0),
            _ => column!(self, col, bool),
        }
    }
    pub fn uuid(&self, col: &str) -> StoreResult<uuid::Uuid> {
        parse_uuid(&self.text(col)?)
    }
    pub fn opt_uuid(&self, col: &str) -> StoreResult<Option<uuid::Uuid>> {
        self.opt_text(col)?.as_deref().map(parse_uuid).transpose()
    }
    /// A column holding JSON text.
    pub fn json<T: serde::de::DeserializeOwned>(&self, col: &str) -> StoreResult<T> {
        let text = self.text(col)?;
        serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
    }
    /// A comma-joined list of UUIDs produced by [`Dialect::string_agg`].
    pub fn uuid_list(&self, col: &str) -> StoreResult<Vec<uuid::Uuid>> {
        match self.opt_text(col)? {
            None => Ok(Vec::new()),
            Some(text) => text.split(',').filter(|s| !s.is_empty()).map(parse_uuid).collect(),
        }
    }
}

fn parse_uuid(text: &str) -> StoreResult<uuid::Uuid> {
    uuid::Uuid::parse_str(text).map_err(|e| StoreError::Corrupt(format!("uuid {text:?}: {e}")))
}

/// The few places where the two SQL dialects differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// An ordered, comma-joined aggregate of `expr`.
    pub fn string_agg(self, expr: &str, order_by: &str) -> String {
        match self {
            Dialect::Sqlite => format!("group_concat({expr}, ',' ORDER BY {order_by})"),
            Dialect::Postgres => format!("string_agg({expr}, ',' ORDER BY {order_by})"),
        }
    }
}

// ------------------------------------------------------------------------------------------
// SQLite: rusqlite, called directly. SQLite is an in-process library: a read of a page of rows
// takes tens of microseconds, less than handing it to another thread would cost, so queries run
// on the calling task. Reads use a small pool of read-only connections (WAL lets them run beside
// the writer); writes go through the one write connection, held for a whole transaction.
// ------------------------------------------------------------------------------------------

/// The SQLite database: a write connection, a pool of read connections and a read cache.
pub struct SqliteDb {
    path: PathBuf,
    readers: std::sync::Mutex<Vec<rusqlite::Connection>>,
    writer: Arc<tokio::sync::Mutex<rusqlite::Connection>>,
    cache: ReadCache,
    /// `?read_cache=off` in the URL turns the cache off (to measure or debug).
    read_cache: bool,
}

type CacheKey = (String, Vec<Param>);
/// The data version the rows were read at, and the rows.
type CacheEntry = (i64, Arc<[LiteRow]>);

/// Results of recent reads, valid while nothing has been committed since. A dedicated
/// connection's `PRAGMA data_version` changes whenever any other connection (our writer, or
/// another process using the same file) commits, so the cache can never serve stale rows: an
/// entry is used only if the version it was read under is still current.
struct ReadCache {
    watch: std::sync::Mutex<rusqlite::Connection>,
    entries: std::sync::Mutex<HashMap<CacheKey, CacheEntry>>,
}

const CACHE_ENTRIES: usize = 1024;
const CACHE_MAX_ROWS: usize = 200;

impl ReadCache {
    fn version(&self) -> StoreResult<i64> {
        let watch = self.watch.lock().map_err(|_| StoreError::Corrupt("cache watch poisoned".into()))?;
        let mut stmt = watch.prepare_cached("PRAGMA data_version")?;
        Ok(stmt.query_row([], |r| r.get(0))?)
    }

    fn get(&self, key: &CacheKey, version: i64) -> Option<Vec<Row>> {
        let entries = self.entries.lock().ok()?;
        match entries.get(key) {
            Some((at, rows)) if *at == version => Some(rows.iter().cloned().map(Row::Lite).collect()),
            _ => None,
        }
    }

    fn put(&self, key: CacheKey, version: i64, rows: &[Row]) {
        if rows.len() > CACHE_MAX_ROWS {
            return;
        }
        let lite: Vec<LiteRow> =
            rows.iter().filter_map(|r| if let Row::Lite(l) = r { Some(l.clone()) } else { None }).collect();
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CACHE_ENTRIES {
                entries.retain(|_, (at, _)| *at == version);
                if entries.len() >= CACHE_ENTRIES {
                    entries.clear();
                }
            }
            entries.insert(key, (version, lite.into()));
        }
    }
}

const SQLITE_READERS: usize = 8;
const STATEMENT_CACHE: usize = 128;

fn configure(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(())
}

impl SqliteDb {
    fn open(url: &str) -> StoreResult<SqliteDb> {
        let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
        let (path, options) = rest.split_once('?').unwrap_or((rest, ""));
        let path = PathBuf::from(path);
        let read_cache = match options.split('&').find_map(|o| o.strip_prefix("read_cache=")) {
            None | Some("on") => true,
            Some("off") => false,
            Some(other) => return Err(StoreError::Config(format!("read_cache must be on or off, not {other:?}"))),
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
        let watch = rusqlite::Connection::open(&path)?;
        watch.pragma_update(None, "query_only", "ON")?;
        Ok(SqliteDb {
            path,
            readers: std::sync::Mutex::new(Vec::new()),
            writer: Arc::new(tokio::sync::Mutex::new(writer)),
            cache: ReadCache { watch: std::sync::Mutex::new(watch), entries: std::sync::Mutex::new(HashMap::new()) },
            read_cache,
        })
    }

    /// A read through the cache.
    fn cached_fetch(&self, sql: &str, params: Vec<Param>, limit: Option<usize>) -> StoreResult<Vec<Row>> {
        if !self.read_cache {
            return self.read(|conn| lite_fetch(conn, sql, &params, limit));
        }
        let version = self.cache.version()?;
        let key = (sql.to_owned(), params);
        let rows = match self.cache.get(&key, version) {
            Some(rows) => rows,
            None => {
                let rows = self.read(|conn| lite_fetch(conn, sql, &key.1, None))?;
                self.cache.put(key, version, &rows);
                rows
            }
        };
        Ok(match limit {
            Some(l) => rows.into_iter().take(l).collect(),
            None => rows,
        })
    }

    /// Runs `f` on a read connection from the pool (opening one if none is free).
    fn read<T>(&self, f: impl FnOnce(&rusqlite::Connection) -> StoreResult<T>) -> StoreResult<T> {
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
        let result = f(&conn);
        if let Ok(mut readers) = self.readers.lock() {
            if readers.len() < SQLITE_READERS {
                readers.push(conn);
            }
        }
        result
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

fn lite_fetch(conn: &rusqlite::Connection, sql: &str, params: &[Param], limit: Option<usize>) -> StoreResult<Vec<Row>> {
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

fn lite_execute(conn: &rusqlite::Connection, sql: &str, params: &[Param]) -> StoreResult<u64> {
    let mut stmt = conn.prepare_cached(sql)?;
    bind_lite(&mut stmt, params)?;
    Ok(stmt.raw_execute()? as u64)
}

/// A connection to run statements on: a pool, or an open transaction.
pub enum Conn<'a> {
    Sqlite(&'a SqliteDb),
    SqliteTx(&'a mut rusqlite::Connection),
    PgPool(&'a PgPool),
    PgTx(&'a mut PgConnection),
}

macro_rules! bind_pg {
    ($query:expr, $params:expr) => {{
        let mut query = $query;
        for param in $params {
            query = match param {
                Param::Text(v) => query.bind(v),
                Param::OptText(v) => query.bind(v),
                Param::Int(v) => query.bind(v),
                Param::OptInt(v) => query.bind(v),
                Param::Bool(v) => query.bind(v),
            };
        }
        query
    }};
}

impl Conn<'_> {
    pub fn dialect(&self) -> Dialect {
        match self {
            Conn::Sqlite(_) | Conn::SqliteTx(_) => Dialect::Sqlite,
            Conn::PgPool(_) | Conn::PgTx(_) => Dialect::Postgres,
        }
    }

    async fn fetch(&mut self, sql: &str, params: Vec<Param>, limit: Option<usize>) -> StoreResult<Vec<Row>> {
        let pg_rows = match self {
            Conn::Sqlite(db) => return db.cached_fetch(sql, params, limit),
            Conn::SqliteTx(conn) => return lite_fetch(conn, sql, &params, limit),
            Conn::PgPool(pool) => bind_pg!(sqlx::query(sql), params).fetch_all(*pool).await?,
            Conn::PgTx(conn) => bind_pg!(sqlx::query(sql), params).fetch_all(&mut **conn).await?,
        };
        Ok(pg_rows.into_iter().map(Row::Pg).collect())
    }

    pub async fn fetch_all(&mut self, sql: &str, params: Vec<Param>) -> StoreResult<Vec<Row>> {
        self.fetch(sql, params, None).await
    }

    pub async fn fetch_optional(&mut self, sql: &str, params: Vec<Param>) -> StoreResult<Option<Row>> {
        Ok(self.fetch(sql, params, Some(1)).await?.pop())
    }

    pub async fn fetch_one(&mut self, sql: &str, params: Vec<Param>) -> StoreResult<Row> {
        self.fetch_optional(sql, params).await?.ok_or_else(|| StoreError::Corrupt(format!("no row from: {sql}")))
    }

    /// Runs a statement; returns the number of rows it changed.
    pub async fn execute(&mut self, sql: &str, params: Vec<Param>) -> StoreResult<u64> {
        match self {
            Conn::Sqlite(db) => db.read(|conn| lite_execute(conn, sql, &params)),
            Conn::SqliteTx(conn) => lite_execute(conn, sql, &params),
            Conn::PgPool(pool) => Ok(bind_pg!(sqlx::query(sql), params).execute(*pool).await?.rows_affected()),
            Conn::PgTx(conn) => Ok(bind_pg!(sqlx::query(sql), params).execute(&mut **conn).await?.rows_affected()),
        }
    }

    /// Runs several `;`-separated statements without parameters (migrations).
    async fn execute_script(&mut self, sql: &str) -> StoreResult<()> {
        match self {
            Conn::Sqlite(db) => db.read(|conn| Ok(conn.execute_batch(sql)?)),
            Conn::SqliteTx(conn) => Ok(conn.execute_batch(sql)?),
            Conn::PgPool(pool) => sqlx::raw_sql(sql).execute(*pool).await.map(drop).map_err(StoreError::from),
            Conn::PgTx(conn) => sqlx::raw_sql(sql).execute(&mut **conn).await.map(drop).map_err(StoreError::from),
        }
    }
}

#[derive(Clone)]
enum Pools {
    Sqlite(Arc<SqliteDb>),
    Postgres(PgPool),
}

/// The database: a handle that is cheap to clone.
#[derive(Clone)]
pub struct Store {
    pools: Pools,
}

/// An open transaction; dropped without [`Tx::commit`], it rolls back.
pub enum Tx {
    Sqlite(SqliteTx),
    Pg(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// A SQLite write transaction: the write connection, held until commit or drop.
pub struct SqliteTx {
    conn: tokio::sync::OwnedMutexGuard<rusqlite::Connection>,
    open: bool,
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

impl Tx {
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            Tx::Sqlite(tx) => Conn::SqliteTx(&mut tx.conn),
            Tx::Pg(tx) => Conn::PgTx(tx),
        }
    }

    pub async fn commit(self) -> StoreResult<()> {
        match self {
            Tx::Sqlite(mut tx) => {
                tx.conn.execute_batch("COMMIT")?;
                tx.open = false;
                Ok(())
            }
            Tx::Pg(tx) => tx.commit().await.map_err(StoreError::from),
        }
    }
}

const MIGRATIONS_SQLITE: &[(i64, &str, &str)] =
    &[(1, "initial", include_str!("../migrations/sqlite/0001_initial.sql"))];
const MIGRATIONS_POSTGRES: &[(i64, &str, &str)] =
    &[(1, "initial", include_str!("../migrations/postgres/0001_initial.sql"))];

/// Serialises migrations of several plexid instances sharing one PostgreSQL database.
const MIGRATION_LOCK: i64 = 0x706c_6578_6964;

impl Store {
    /// Opens `sqlite://PATH` (created if missing) or `postgres://…`. Does not migrate.
    pub async fn connect(url: &str) -> StoreResult<Store> {
        if url.starts_with("sqlite:") {
            Ok(Store { pools: Pools::Sqlite(Arc::new(SqliteDb::open(url)?)) })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options =
                PgConnectOptions::from_str(url).map_err(|e| StoreError::Config(format!("bad PostgreSQL URL: {e}")))?;
            Self::connect_postgres(options).await
        } else {
            Err(StoreError::Config(format!(
                "unsupported database URL {:?}: use sqlite://PATH or postgres://…",
                redact_url(url)
            )))
        }
    }

    pub async fn connect_postgres(options: PgConnectOptions) -> StoreResult<Store> {
        // A pooled connection is not pinged before use: a failed query reports its own error,
        // and the ping would cost a round trip on every request.
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        Ok(Store { pools: Pools::Postgres(pool) })
    }

    pub fn dialect(&self) -> Dialect {
        match self.pools {
            Pools::Sqlite(_) => Dialect::Sqlite,
            Pools::Postgres(_) => Dialect::Postgres,
        }
    }

    /// A connection for reads outside a transaction.
    pub fn conn(&self) -> Conn<'_> {
        match &self.pools {
            Pools::Sqlite(db) => Conn::Sqlite(db),
            Pools::Postgres(pool) => Conn::PgPool(pool),
        }
    }

    /// Starts a write transaction (on SQLite, waits for the one writer).
    pub async fn begin(&self) -> StoreResult<Tx> {
        Ok(match &self.pools {
            Pools::Sqlite(db) => {
                let conn = Arc::clone(&db.writer).lock_owned().await;
                conn.execute_batch("BEGIN IMMEDIATE")?;
                Tx::Sqlite(SqliteTx { conn, open: true })
            }
            Pools::Postgres(pool) => Tx::Pg(pool.begin().await?),
        })
    }

    /// Is the database answering?
    pub async fn ping(&self) -> bool {
        self.conn().fetch_one("SELECT 1 AS one", vec![]).await.is_ok()
    }

    /// Applies the migrations not yet applied, in one transaction. Safe to run from several
    /// instances at once on PostgreSQL (an advisory lock serialises them).
    pub async fn migrate(&self) -> StoreResult<usize> {
        let mut tx = self.begin().await?;
        let mut conn = tx.conn();
        let migrations = match conn.dialect() {
            Dialect::Sqlite => MIGRATIONS_SQLITE,
            Dialect::Postgres => {
                conn.execute("SELECT pg_advisory_xact_lock($1)", crate::params![MIGRATION_LOCK]).await?;
                MIGRATIONS_POSTGRES
            }
        };
        conn.execute_script(
            "CREATE TABLE IF NOT EXISTS plexid_migration (version BIGINT PRIMARY KEY, name TEXT NOT NULL)",
        )
        .await?;
        let applied: Vec<i64> = conn
            .fetch_all("SELECT version FROM plexid_migration", vec![])
            .await?
            .iter()
            .map(|r| r.int("version"))
            .collect::<StoreResult<_>>()?;
        let mut count = 0;
        for (version, name, sql) in migrations.iter().filter(|(v, ..)| !applied.contains(v)) {
            tracing::info!(version, name, "applying migration");
            conn.execute_script(sql).await?;
            conn.execute(
                "INSERT INTO plexid_migration (version, name) VALUES ($1, $2)",
                crate::params![*version, *name],
            )
            .await?;
            count += 1;
        }
        tx.commit().await?;
        Ok(count)
    }

    /// Closes every connection (at shutdown).
    pub async fn close(&self) {
        match &self.pools {
            Pools::Sqlite(db) => {
                if let Ok(mut readers) = db.readers.lock() {
                    readers.clear();
                }
            }
            Pools::Postgres(pool) => pool.close().await,
        }
    }
}

/// A database URL with any password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..scheme + 3], &userinfo[..colon], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact_url("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
    }
}
