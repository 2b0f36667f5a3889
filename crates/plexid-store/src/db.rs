//! The one place that knows there are two database engines. Everything above it writes its
//! SQL once (`$1` placeholders work on both) and runs it through [`Conn`].

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::{PgConnection, PgPool, Row as _, SqliteConnection, SqlitePool};

use crate::error::{StoreError, StoreResult};

/// A value bound to a `$n` placeholder. Nulls carry their type so PostgreSQL can infer it.
#[derive(Clone, Debug)]
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

/// A result row of either engine, read by column name.
pub enum Row {
    Sqlite(SqliteRow),
    Pg(PgRow),
}

macro_rules! column {
    ($self:expr, $col:expr, $ty:ty) => {
        match $self {
            Row::Sqlite(r) => r.try_get::<$ty, _>($col),
            Row::Pg(r) => r.try_get::<$ty, _>($col),
        }
        .map_err(StoreError::from)
    };
}

impl Row {
    pub fn text(&self, col: &str) -> StoreResult<String> {
        column!(self, col, String)
    }
    pub fn opt_text(&self, col: &str) -> StoreResult<Option<String>> {
        column!(self, col, Option<String>)
    }
    pub fn int(&self, col: &str) -> StoreResult<i64> {
        column!(self, col, i64)
    }
    pub fn opt_int(&self, col: &str) -> StoreResult<Option<i64>> {
        column!(self, col, Option<i64>)
    }
    pub fn boolean(&self, col: &str) -> StoreResult<bool> {
        column!(self, col, bool)
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

/// A connection to run statements on: a pool, or an open transaction.
pub enum Conn<'a> {
    SqlitePool(&'a SqlitePool),
    PgPool(&'a PgPool),
    SqliteTx(&'a mut SqliteConnection),
    PgTx(&'a mut PgConnection),
}

macro_rules! bind_all {
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

macro_rules! run {
    ($self:expr, $sql:expr, $params:expr, $method:ident, $wrap:expr) => {
        match $self {
            Conn::SqlitePool(pool) => bind_all!(sqlx::query($sql), $params).$method(*pool).await.map($wrap(Row::Sqlite)),
            Conn::SqliteTx(conn) => bind_all!(sqlx::query($sql), $params).$method(&mut **conn).await.map($wrap(Row::Sqlite)),
            Conn::PgPool(pool) => bind_all!(sqlx::query($sql), $params).$method(*pool).await.map($wrap(Row::Pg)),
            Conn::PgTx(conn) => bind_all!(sqlx::query($sql), $params).$method(&mut **conn).await.map($wrap(Row::Pg)),
        }
        .map_err(StoreError::from)
    };
}

fn all<R>(wrap: fn(R) -> Row) -> impl Fn(Vec<R>) -> Vec<Row> {
    move |rows| rows.into_iter().map(wrap).collect()
}
fn optional<R>(wrap: fn(R) -> Row) -> impl Fn(Option<R>) -> Option<Row> {
    move |row| row.map(wrap)
}

impl Conn<'_> {
    pub fn dialect(&self) -> Dialect {
        match self {
            Conn::SqlitePool(_) | Conn::SqliteTx(_) => Dialect::Sqlite,
            Conn::PgPool(_) | Conn::PgTx(_) => Dialect::Postgres,
        }
    }

    pub async fn fetch_all(&mut self, sql: &str, params: Vec<Param>) -> StoreResult<Vec<Row>> {
        run!(self, sql, params, fetch_all, all)
    }

    pub async fn fetch_optional(&mut self, sql: &str, params: Vec<Param>) -> StoreResult<Option<Row>> {
        run!(self, sql, params, fetch_optional, optional)
    }

    pub async fn fetch_one(&mut self, sql: &str, params: Vec<Param>) -> StoreResult<Row> {
        self.fetch_optional(sql, params)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("no row from: {sql}")))
    }

    /// Runs a statement; returns the number of rows it changed.
    pub async fn execute(&mut self, sql: &str, params: Vec<Param>) -> StoreResult<u64> {
        match self {
            Conn::SqlitePool(pool) => bind_all!(sqlx::query(sql), params).execute(*pool).await.map(|r| r.rows_affected()),
            Conn::SqliteTx(conn) => bind_all!(sqlx::query(sql), params).execute(&mut **conn).await.map(|r| r.rows_affected()),
            Conn::PgPool(pool) => bind_all!(sqlx::query(sql), params).execute(*pool).await.map(|r| r.rows_affected()),
            Conn::PgTx(conn) => bind_all!(sqlx::query(sql), params).execute(&mut **conn).await.map(|r| r.rows_affected()),
        }
        .map_err(StoreError::from)
    }

    /// Runs several `;`-separated statements without parameters (migrations).
    async fn execute_script(&mut self, sql: &str) -> StoreResult<()> {
        match self {
            Conn::SqlitePool(pool) => sqlx::raw_sql(sql).execute(*pool).await.map(drop),
            Conn::SqliteTx(conn) => sqlx::raw_sql(sql).execute(&mut **conn).await.map(drop),
            Conn::PgPool(pool) => sqlx::raw_sql(sql).execute(*pool).await.map(drop),
            Conn::PgTx(conn) => sqlx::raw_sql(sql).execute(&mut **conn).await.map(drop),
        }
        .map_err(StoreError::from)
    }
}

#[derive(Clone)]
enum Pools {
    /// SQLite allows one writer: writes go through a one-connection pool so transactions queue
    /// in-process instead of failing with SQLITE_BUSY; reads use the other pool (WAL mode).
    Sqlite { read: SqlitePool, write: SqlitePool },
    Postgres(PgPool),
}

/// The database: a handle that is cheap to clone.
#[derive(Clone)]
pub struct Store {
    pools: Pools,
}

/// An open transaction; dropped without [`Tx::commit`], it rolls back.
pub enum Tx {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Pg(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl Tx {
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            Tx::Sqlite(tx) => Conn::SqliteTx(&mut **tx),
            Tx::Pg(tx) => Conn::PgTx(&mut **tx),
        }
    }

    pub async fn commit(self) -> StoreResult<()> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Pg(tx) => tx.commit().await,
        }
        .map_err(StoreError::from)
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
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| StoreError::Config(format!("bad SQLite URL: {e}")))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            let write = SqlitePoolOptions::new().max_connections(1).connect_with(options.clone()).await?;
            let read = SqlitePoolOptions::new().max_connections(8).connect_with(options.read_only(true)).await?;
            Ok(Store { pools: Pools::Sqlite { read, write } })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url)
                .map_err(|e| StoreError::Config(format!("bad PostgreSQL URL: {e}")))?;
            Self::connect_postgres(options).await
        } else {
            Err(StoreError::Config(format!(
                "unsupported database URL {:?}: use sqlite://PATH or postgres://…",
                redact_url(url)
            )))
        }
    }

    pub async fn connect_postgres(options: PgConnectOptions) -> StoreResult<Store> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        Ok(Store { pools: Pools::Postgres(pool) })
    }

    pub fn dialect(&self) -> Dialect {
        match self.pools {
            Pools::Sqlite { .. } => Dialect::Sqlite,
            Pools::Postgres(_) => Dialect::Postgres,
        }
    }

    /// A connection for reads outside a transaction.
    pub fn conn(&self) -> Conn<'_> {
        match &self.pools {
            Pools::Sqlite { read, .. } => Conn::SqlitePool(read),
            Pools::Postgres(pool) => Conn::PgPool(pool),
        }
    }

    /// Starts a write transaction.
    pub async fn begin(&self) -> StoreResult<Tx> {
        Ok(match &self.pools {
            Pools::Sqlite { write, .. } => Tx::Sqlite(write.begin().await?),
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
            conn.execute("INSERT INTO plexid_migration (version, name) VALUES ($1, $2)", crate::params![*version, *name])
                .await?;
            count += 1;
        }
        tx.commit().await?;
        Ok(count)
    }

    /// Closes every connection (at shutdown).
    pub async fn close(&self) {
        match &self.pools {
            Pools::Sqlite { read, write } => {
                read.close().await;
                write.close().await;
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
