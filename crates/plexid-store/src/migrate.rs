//! Schema migrations, one list per engine (the files differ only where the dialects do; a parity
//! test checks that both describe the same tables, columns and constraints).

use crate::engine::{Dialect, Store};
use crate::error::StoreResult;
use crate::params;

const SQLITE: &[(i64, &str, &str)] = &[
    (1, "initial", include_str!("../migrations/sqlite/0001_initial.sql")),
    (2, "login", include_str!("../migrations/sqlite/0002_login.sql")),
    (3, "indexes", include_str!("../migrations/sqlite/0003_indexes.sql")),
    (4, "apps", include_str!("../migrations/sqlite/0004_apps.sql")),
    (5, "read_cache", include_str!("../migrations/sqlite/0005_read_cache.sql")),
    (6, "connection_counts", include_str!("../migrations/sqlite/0006_connection_counts.sql")),
    (7, "security", include_str!("../migrations/sqlite/0007_security.sql")),
    (8, "plex_facts", include_str!("../migrations/sqlite/0008_plex_facts.sql")),
    (9, "reliability", include_str!("../migrations/sqlite/0009_reliability.sql")),
    (11, "provider_names", include_str!("../migrations/sqlite/0011_provider_names.sql")),
    (12, "pages", include_str!("../migrations/sqlite/0012_pages.sql")),
    (13, "change_feed", include_str!("../migrations/sqlite/0013_change_feed.sql")),
    (14, "scale", include_str!("../migrations/sqlite/0014_scale.sql")),
];
const POSTGRES: &[(i64, &str, &str)] = &[
    (1, "initial", include_str!("../migrations/postgres/0001_initial.sql")),
    (2, "login", include_str!("../migrations/postgres/0002_login.sql")),
    (3, "indexes", include_str!("../migrations/postgres/0003_indexes.sql")),
    (4, "apps", include_str!("../migrations/postgres/0004_apps.sql")),
    (5, "read_cache", include_str!("../migrations/postgres/0005_read_cache.sql")),
    (6, "connection_counts", include_str!("../migrations/postgres/0006_connection_counts.sql")),
    (7, "security", include_str!("../migrations/postgres/0007_security.sql")),
    (8, "plex_facts", include_str!("../migrations/postgres/0008_plex_facts.sql")),
    (9, "reliability", include_str!("../migrations/postgres/0009_reliability.sql")),
    (11, "provider_names", include_str!("../migrations/postgres/0011_provider_names.sql")),
    (12, "pages", include_str!("../migrations/postgres/0012_pages.sql")),
    (13, "change_feed", include_str!("../migrations/postgres/0013_change_feed.sql")),
    (14, "scale", include_str!("../migrations/postgres/0014_scale.sql")),
];

/// How many migrations there are (the same on both engines).
pub const MIGRATION_COUNT: usize = SQLITE.len();
const _: () = assert!(SQLITE.len() == POSTGRES.len(), "both engines have the same migrations");

/// Serialises migrations of several plexid instances sharing one PostgreSQL database.
const MIGRATION_LOCK: i64 = 0x706c_6578_6964;

impl crate::engine::Conn<'_, crate::engine::ReadWrite> {
    /// Serialises start-up work (seeding the admin, flows, secret key) of several instances
    /// starting at once on one PostgreSQL database: holds the migration lock until this
    /// transaction ends. SQLite's single writer already serialises it.
    pub async fn lock_setup(&mut self) -> StoreResult<()> {
        if self.dialect() == Dialect::Postgres {
            self.execute("SELECT pg_advisory_xact_lock($1)", params![MIGRATION_LOCK]).await?;
        }
        Ok(())
    }
}

impl Store {
    /// Applies the migrations not yet applied, in one transaction. Safe to run from several
    /// instances at once on PostgreSQL (an advisory lock serialises them).
    pub async fn migrate(&self) -> StoreResult<usize> {
        let mut tx = self.begin().await?;
        let mut conn = tx.conn();
        let migrations = match conn.dialect() {
            Dialect::Sqlite => SQLITE,
            Dialect::Postgres => {
                conn.execute("SELECT pg_advisory_xact_lock($1)", params![MIGRATION_LOCK]).await?;
                POSTGRES
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
            conn.execute("INSERT INTO plexid_migration (version, name) VALUES ($1, $2)", params![*version, *name])
                .await?;
            count += 1;
        }
        tx.commit().await?;
        Ok(count)
    }
}
