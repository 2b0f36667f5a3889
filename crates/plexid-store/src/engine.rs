//! The one place that knows there are two database engines. Everything above it writes its SQL
//! once (`$1` placeholders work on both) and runs it through a [`Conn`].
//!
//! A [`Conn`] is either a reader ([`Store::read`]: pooled connections, no transaction) or the
//! connection of an open transaction ([`Tx::conn`]). Only the latter can write: `execute` exists
//! on `Conn<'_, ReadWrite>` alone, so a write outside a transaction does not compile.

use std::marker::PhantomData;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgConnection, PgPool};

use crate::error::{StoreError, StoreResult};
use crate::row::{Param, Row};
use crate::sqlite::{lite_execute, lite_fetch, SqliteDb, SqliteTx};

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

    /// The text at `path` (object keys, outermost first; fixed names, never user input) inside
    /// the JSON text column `column`; NULL when absent.
    pub fn json_text(self, column: &str, path: &[&str]) -> String {
        match self {
            Dialect::Sqlite => format!("json_extract({column}, '$.{}')", path.join(".")),
            Dialect::Postgres => format!("(CAST({column} AS jsonb) #>> '{{{}}}')", path.join(",")),
        }
    }

    /// The suffix that locks the selected rows until the transaction ends. SQLite needs none:
    /// its write transactions (`BEGIN IMMEDIATE`) already exclude every other writer.
    pub fn for_update(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE",
        }
    }

    /// [`Dialect::for_update`] of one table of a join (PostgreSQL refuses to lock the nullable
    /// side of an outer join).
    pub fn for_update_of(self, alias: &str) -> String {
        match self {
            Dialect::Sqlite => String::new(),
            Dialect::Postgres => format!(" FOR UPDATE OF {alias}"),
        }
    }
}

/// What a [`Conn`] may do.
pub trait Access: Send + Sync + 'static {}
/// Reads only.
pub enum ReadOnly {}
/// Reads and writes: the connection of an open transaction.
pub enum ReadWrite {}
impl Access for ReadOnly {}
impl Access for ReadWrite {}

pub(crate) enum Inner<'a> {
    Sqlite(&'a SqliteDb),
    SqliteTx(&'a mut rusqlite::Connection),
    /// The pool; `true`: through the read cache.
    PgPool(&'a PgDb, bool),
    PgTx(&'a mut PgConnection),
}

/// A connection to run statements on.
pub struct Conn<'a, A: Access = ReadOnly> {
    inner: Inner<'a>,
    access: PhantomData<A>,
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

/// Runs SQLite work that may wait on the disk (a write, a commit and its fsync, a busy
/// database) off the async runtime's worker threads, so one slow write does not stall every
/// other request: on the multi-threaded runtime the worker hands its other tasks to another
/// thread first (`block_in_place`). Cached reads stay inline; they take microseconds.
pub(crate) fn off_runtime<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

impl<A: Access> Conn<'_, A> {
    pub fn dialect(&self) -> Dialect {
        match self.inner {
            Inner::Sqlite(_) | Inner::SqliteTx(_) => Dialect::Sqlite,
            Inner::PgPool(..) | Inner::PgTx(_) => Dialect::Postgres,
        }
    }

    /// The rows of `sql`, the first `limit` of them when given (on every engine and connection
    /// alike: a limit keeps the *first* rows).
    async fn fetch(&mut self, sql: &str, params: Vec<Param>, limit: Option<usize>) -> StoreResult<Vec<Row>> {
        let pg_rows = match &mut self.inner {
            Inner::Sqlite(db) => return db.cached_fetch(sql, params, limit),
            Inner::SqliteTx(conn) => return off_runtime(|| lite_fetch(conn, sql, &params, limit)),
            Inner::PgPool(db, true) => return db.cached_fetch(sql, params, limit).await,
            Inner::PgPool(db, false) => return db.fetch_uncached(sql, params, limit).await,
            Inner::PgTx(conn) if limit == Some(1) => {
                bind_pg!(sqlx::query(sql), params).fetch_optional(&mut **conn).await?.into_iter().collect()
            }
            Inner::PgTx(conn) => bind_pg!(sqlx::query(sql), params).fetch_all(&mut **conn).await?,
        };
        let rows = pg_rows.into_iter().map(|r| Row::Pg(Arc::new(r)));
        Ok(match limit {
            Some(l) => rows.take(l).collect(),
            None => rows.collect(),
        })
    }

    pub async fn fetch_all(&mut self, sql: &str, params: Vec<Param>) -> StoreResult<Vec<Row>> {
        self.fetch(sql, params, None).await
    }

    /// The first row, if any (as `LIMIT 1` would give it, on both engines).
    pub async fn fetch_optional(&mut self, sql: &str, params: Vec<Param>) -> StoreResult<Option<Row>> {
        Ok(self.fetch(sql, params, Some(1)).await?.into_iter().next())
    }

    pub async fn fetch_one(&mut self, sql: &str, params: Vec<Param>) -> StoreResult<Row> {
        self.fetch_optional(sql, params).await?.ok_or_else(|| StoreError::Corrupt(format!("no row from: {sql}")))
    }
}

impl Conn<'_, ReadWrite> {
    /// Runs a statement; returns the number of rows it changed.
    pub async fn execute(&mut self, sql: &str, params: Vec<Param>) -> StoreResult<u64> {
        match &mut self.inner {
            Inner::SqliteTx(conn) => off_runtime(|| lite_execute(conn, sql, &params)),
            Inner::PgTx(conn) => Ok(bind_pg!(sqlx::query(sql), params).execute(&mut **conn).await?.rows_affected()),
            Inner::Sqlite(_) | Inner::PgPool(..) => unreachable!("a read-write Conn is always a transaction's"),
        }
    }

    /// Runs several `;`-separated statements without parameters (migrations).
    pub(crate) async fn execute_script(&mut self, sql: &str) -> StoreResult<()> {
        match &mut self.inner {
            Inner::SqliteTx(conn) => Ok(off_runtime(|| conn.execute_batch(sql))?),
            Inner::PgTx(conn) => sqlx::raw_sql(sql).execute(&mut **conn).await.map(drop).map_err(StoreError::from),
            Inner::Sqlite(_) | Inner::PgPool(..) => unreachable!("a read-write Conn is always a transaction's"),
        }
    }
}

#[derive(Clone)]
enum Pools {
    Sqlite(Arc<SqliteDb>),
    Postgres(Arc<PgDb>),
}

/// The PostgreSQL pool and its read cache, which is good under the data generation of
/// [`crate::changes`] (moved on by every commit, this instance's or another's).
pub(crate) struct PgDb {
    pool: PgPool,
    cache: Option<crate::read_cache::ReadCache>,
    changes: crate::changes::Changes,
}

impl PgDb {
    async fn fetch_uncached(&self, sql: &str, params: Vec<Param>, limit: Option<usize>) -> StoreResult<Vec<Row>> {
        let rows = bind_pg!(sqlx::query(sql), params).fetch_all(&self.pool).await?;
        let rows = rows.into_iter().map(|r| Row::Pg(Arc::new(r)));
        Ok(match limit {
            Some(l) => rows.take(l).collect(),
            None => rows.collect(),
        })
    }

    async fn cached_fetch(&self, sql: &str, params: Vec<Param>, limit: Option<usize>) -> StoreResult<Vec<Row>> {
        let fetch = |params: Vec<Param>| self.fetch_uncached(sql, params, None);
        let (Some(cache), Some(generation)) = (&self.cache, self.changes.data_generation()) else {
            return fetch(params).await;
        };
        let key = (sql.to_owned(), params);
        let rows = match cache.get(&key, generation) {
            Some(rows) => rows,
            None => cache.get_or_fetch(key, || self.changes.data_generation(), fetch).await?,
        };
        Ok(match limit {
            Some(l) => rows.into_iter().take(l).collect(),
            None => rows,
        })
    }
}

/// The database: a handle that is cheap to clone.
#[derive(Clone)]
pub struct Store {
    pools: Pools,
    changes: crate::changes::Changes,
}

/// An open transaction; dropped without [`Tx::commit`], it rolls back.
pub enum Tx {
    Sqlite(SqliteTx),
    /// The transaction, and the change feed to tell this instance at once when it commits.
    Pg(sqlx::Transaction<'static, sqlx::Postgres>, crate::changes::Changes),
}

impl Tx {
    pub fn conn(&mut self) -> Conn<'_, ReadWrite> {
        let inner = match self {
            Tx::Sqlite(tx) => Inner::SqliteTx(&mut tx.conn),
            Tx::Pg(tx, _) => Inner::PgTx(tx),
        };
        Conn { inner, access: PhantomData }
    }

    pub async fn commit(self) -> StoreResult<()> {
        match self {
            Tx::Sqlite(mut tx) => {
                off_runtime(|| tx.conn.execute_batch("COMMIT"))?;
                tx.open = false;
                tx.db.committed();
                Ok(())
            }
            Tx::Pg(tx, changes) => {
                tx.commit().await?;
                // Other instances hear of auth changes through the triggers' notifications;
                // this one drops its cached credentials at once after any write of its own.
                changes.bump();
                Ok(())
            }
        }
    }
}

impl Store {
    /// Opens `sqlite://PATH` (created if missing) or `postgres://…`. Does not migrate.
    pub async fn connect(url: &str) -> StoreResult<Store> {
        if url.starts_with("sqlite:") {
            Ok(Store { pools: Pools::Sqlite(Arc::new(SqliteDb::open(url)?)), changes: crate::changes::Changes::none() })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let (url, read_cache) = without_read_cache_option(url)?;
            let options =
                PgConnectOptions::from_str(&url).map_err(|e| StoreError::Config(format!("bad PostgreSQL URL: {e}")))?;
            Self::connect_postgres(options, read_cache).await
        } else {
            Err(StoreError::Config(format!(
                "unsupported database URL {:?}: use sqlite://PATH or postgres://…",
                redact_url(url)
            )))
        }
    }

    /// Opens PostgreSQL with `options`; `read_cache` keeps recent reads (see [`PgDb`]).
    pub async fn connect_postgres(options: PgConnectOptions, read_cache: bool) -> StoreResult<Store> {
        // A pooled connection is not pinged before use: a failed query reports its own error,
        // and the ping would cost a round trip on every request.
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone())
            .await?;
        let changes = crate::changes::Changes::listen(pool.clone(), options);
        let cache = read_cache.then(Default::default);
        let db = PgDb { pool, cache, changes: changes.clone() };
        Ok(Store { pools: Pools::Postgres(Arc::new(db)), changes })
    }

    pub fn dialect(&self) -> Dialect {
        match self.pools {
            Pools::Sqlite(_) => Dialect::Sqlite,
            Pools::Postgres(_) => Dialect::Postgres,
        }
    }

    /// A connection for reads outside a transaction.
    pub fn read(&self) -> Conn<'_, ReadOnly> {
        let inner = match &self.pools {
            Pools::Sqlite(db) => Inner::Sqlite(db),
            Pools::Postgres(db) => Inner::PgPool(db, true),
        };
        Conn { inner, access: PhantomData }
    }

    /// A connection for reads outside a transaction that never come from the read cache: what
    /// another instance committed is seen at once (PostgreSQL's read cache sees it only at its
    /// next poll; SQLite's is always current, so this is [`Store::read`] there).
    pub fn read_fresh(&self) -> Conn<'_, ReadOnly> {
        let inner = match &self.pools {
            Pools::Sqlite(db) => Inner::Sqlite(db),
            Pools::Postgres(db) => Inner::PgPool(db, false),
        };
        Conn { inner, access: PhantomData }
    }

    /// The generation of auth-relevant changes across instances and processes; `None` when
    /// nothing may be cached. On PostgreSQL it moves on with the `plexid_auth` notifications
    /// (see [`crate::changes`]); on SQLite with every commit to the file, seen through
    /// `PRAGMA data_version` at each call (see [`crate::sqlite`]). Either moves on at once when
    /// this instance commits. Read it *before* reading what is to be cached.
    pub fn auth_generation(&self) -> Option<u64> {
        match &self.pools {
            Pools::Sqlite(db) => db.generation().ok(),
            Pools::Postgres(_) => self.changes.generation(),
        }
    }

    /// The generation cached reads are kept under; `None` when nothing may be cached.
    pub fn data_generation(&self) -> Option<u64> {
        match &self.pools {
            Pools::Sqlite(db) => db.generation().ok(),
            Pools::Postgres(_) => self.changes.data_generation(),
        }
    }

    /// Starts a write transaction (on SQLite, waits for the one writer).
    pub async fn begin(&self) -> StoreResult<Tx> {
        Ok(match &self.pools {
            Pools::Sqlite(db) => {
                let conn = Arc::clone(&db.writer).lock_owned().await;
                off_runtime(|| conn.execute_batch("BEGIN IMMEDIATE"))?;
                Tx::Sqlite(SqliteTx { conn, open: true, db: Arc::clone(db) })
            }
            Pools::Postgres(db) => Tx::Pg(db.pool.begin().await?, self.changes.clone()),
        })
    }

    /// Is the database answering? (Never from the read cache.)
    pub async fn ping(&self) -> bool {
        match &self.pools {
            Pools::Sqlite(db) => db.ping(),
            Pools::Postgres(db) => sqlx::query("SELECT 1").execute(&db.pool).await.is_ok(),
        }
    }

    /// Closes every connection (at shutdown).
    pub async fn close(&self) {
        match &self.pools {
            Pools::Sqlite(db) => {
                if let Ok(mut readers) = db.readers.lock() {
                    readers.clear();
                }
            }
            Pools::Postgres(db) => db.pool.close().await,
        }
    }
}

/// Takes plexid's own `read_cache=on|off` out of a PostgreSQL URL's query (the driver does not
/// know it), and returns what remains and whether the cache is on (the default).
pub(crate) fn without_read_cache_option(url: &str) -> StoreResult<(String, bool)> {
    let Some((base, query)) = url.split_once('?') else { return Ok((url.to_owned(), true)) };
    let mut read_cache = true;
    let mut rest = Vec::new();
    for pair in query.split('&') {
        match pair.strip_prefix("read_cache=") {
            Some("on") => read_cache = true,
            Some("off") => read_cache = false,
            Some(other) => return Err(StoreError::Config(format!("read_cache must be on or off, not {other:?}"))),
            None => rest.push(pair),
        }
    }
    let url = if rest.is_empty() { base.to_owned() } else { format!("{base}?{}", rest.join("&")) };
    Ok((url, read_cache))
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
    use super::{redact_url, without_read_cache_option};

    #[test]
    fn the_read_cache_option_is_taken_out_of_postgres_urls() {
        let pairs = [
            ("postgres://h/db", "postgres://h/db", true),
            ("postgres://h/db?read_cache=off", "postgres://h/db", false),
            ("postgres://h/db?sslmode=disable&read_cache=off&x=1", "postgres://h/db?sslmode=disable&x=1", false),
            ("postgres://h/db?read_cache=on", "postgres://h/db", true),
        ];
        for (url, rest, on) in pairs {
            assert_eq!(without_read_cache_option(url).unwrap(), (rest.to_owned(), on), "{url}");
        }
        assert!(without_read_cache_option("postgres://h/db?read_cache=maybe").is_err());
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact_url("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
    }
}
