//! Storage tests, each on SQLite and on PostgreSQL (`PLEXID_TEST_POSTGRES_URL`, set by
//! `scripts/test`): the two migrations describe the same schema, transactions roll back when
//! dropped, and every unique constraint is reported as its `Constraint`.

use std::collections::BTreeSet;

use plexid_store::{Constraint, Dialect, Store, StoreError};

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

/// A migrated, empty database of each engine.
async fn stores() -> Vec<(Store, Option<std::path::PathBuf>)> {
    let path = std::env::temp_dir().join(format!("{}.db", unique("plexid-store-test-")));
    let sqlite = Store::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    let postgres = Store::connect(&postgres_schema().await).await.unwrap();
    let mut out = vec![(sqlite, Some(path)), (postgres, None)];
    for (store, _) in &mut out {
        store.migrate().await.unwrap();
    }
    out
}

/// The URL of a new, empty schema on the test PostgreSQL database.
async fn postgres_schema() -> String {
    let base = std::env::var("PLEXID_TEST_POSTGRES_URL")
        .expect("PLEXID_TEST_POSTGRES_URL is not set: run the tests with scripts/test");
    let schema = unique("s_");
    let admin = Store::connect(&base).await.unwrap();
    let mut tx = admin.begin().await.unwrap();
    tx.conn().execute(&format!("CREATE SCHEMA {schema}"), vec![]).await.unwrap();
    tx.commit().await.unwrap();
    admin.close().await;
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}options=-c%20search_path%3D{schema}")
}

fn cleanup(file: Option<std::path::PathBuf>) {
    if let Some(path) = file {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}

/// (table, column, not null) of every column, and the column sets of unique constraints and
/// foreign keys, as each engine reports them.
#[derive(Debug, PartialEq, Eq)]
struct Shape {
    columns: BTreeSet<(String, String, bool)>,
    uniques: BTreeSet<(String, String)>,
    foreign_keys: BTreeSet<(String, String, String)>,
}

async fn shape(store: &Store) -> Shape {
    let mut conn = store.read();
    let mut columns = BTreeSet::new();
    let mut uniques = BTreeSet::new();
    let mut foreign_keys = BTreeSet::new();
    match store.dialect() {
        Dialect::Sqlite => {
            let tables = conn
                .fetch_all("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'", vec![])
                .await
                .unwrap();
            for table in tables.iter().map(|r| r.text("name").unwrap()) {
                let sql = format!("SELECT name, \"notnull\" AS nn, pk FROM pragma_table_info('{table}')");
                for row in conn.fetch_all(&sql, vec![]).await.unwrap() {
                    let not_null = row.int("nn").unwrap() != 0 || row.int("pk").unwrap() != 0;
                    columns.insert((table.clone(), row.text("name").unwrap(), not_null));
                }
                let sql = format!("SELECT name, \"unique\" AS u FROM pragma_index_list('{table}')");
                for index in conn.fetch_all(&sql, vec![]).await.unwrap() {
                    if index.int("u").unwrap() == 0 {
                        continue;
                    }
                    let name = index.text("name").unwrap();
                    let sql = format!("SELECT name FROM pragma_index_info('{name}') ORDER BY seqno");
                    let cols: Vec<String> =
                        conn.fetch_all(&sql, vec![]).await.unwrap().iter().map(|r| r.text("name").unwrap()).collect();
                    uniques.insert((table.clone(), cols.join(",")));
                }
                let pk: Vec<String> = conn
                    .fetch_all(
                        &format!("SELECT name FROM pragma_table_info('{table}') WHERE pk > 0 ORDER BY pk"),
                        vec![],
                    )
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| r.text("name").unwrap())
                    .collect();
                uniques.insert((table.clone(), pk.join(",")));
                let sql =
                    format!("SELECT \"from\" AS col, \"table\" AS target FROM pragma_foreign_key_list('{table}')");
                for fk in conn.fetch_all(&sql, vec![]).await.unwrap() {
                    foreign_keys.insert((table.clone(), fk.text("col").unwrap(), fk.text("target").unwrap()));
                }
            }
        }
        Dialect::Postgres => {
            let sql = "SELECT table_name::text AS t, column_name::text AS c, is_nullable::text AS n \
                       FROM information_schema.columns WHERE table_schema = current_schema()";
            for row in conn.fetch_all(sql, vec![]).await.unwrap() {
                columns.insert((row.text("t").unwrap(), row.text("c").unwrap(), row.text("n").unwrap() == "NO"));
            }
            let sql = "SELECT rel.relname::text AS t, \
                              (SELECT string_agg(a.attname::text, ',' ORDER BY k.ord) FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord) \
                               JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum) AS cols, \
                              con.contype::text AS kind, \
                              (SELECT relname::text FROM pg_class WHERE oid = con.confrelid) AS target \
                       FROM pg_constraint con JOIN pg_class rel ON rel.oid = con.conrelid \
                       JOIN pg_namespace ns ON ns.oid = rel.relnamespace \
                       WHERE ns.nspname = current_schema() AND con.contype IN ('u', 'p', 'f')";
            for row in conn.fetch_all(sql, vec![]).await.unwrap() {
                let (table, cols) = (row.text("t").unwrap(), row.text("cols").unwrap());
                if row.text("kind").unwrap() == "f" {
                    foreign_keys.insert((table, cols, row.text("target").unwrap()));
                } else {
                    uniques.insert((table, cols));
                }
            }
        }
    }
    Shape { columns, uniques, foreign_keys }
}

#[tokio::test]
async fn migrations_describe_the_same_schema() {
    let mut stores = stores().await;
    let (postgres, _) = stores.pop().unwrap();
    let (sqlite, file) = stores.pop().unwrap();
    let (lite, pg) = (shape(&sqlite).await, shape(&postgres).await);
    assert_eq!(lite.columns, pg.columns, "tables and columns (with NOT NULL) differ");
    assert_eq!(lite.uniques, pg.uniques, "unique constraints and primary keys differ");
    assert_eq!(lite.foreign_keys, pg.foreign_keys, "foreign keys differ");
    assert!(lite.columns.len() > 50, "the schema was read: {}", lite.columns.len());
    // Every named constraint exists in PostgreSQL under its name.
    let names: Vec<String> = postgres
        .read()
        .fetch_all(
            "SELECT conname::text AS n FROM pg_constraint con JOIN pg_namespace ns ON ns.oid = con.connamespace \
             WHERE ns.nspname = current_schema()",
            vec![],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.text("n").unwrap())
        .collect();
    for constraint in Constraint::ALL {
        assert!(names.iter().any(|n| n == constraint.name()), "{constraint:?} ({}) missing", constraint.name());
    }
    cleanup(file);
}

#[tokio::test]
async fn dropped_transactions_roll_back() {
    for (store, file) in stores().await {
        {
            let mut tx = store.begin().await.unwrap();
            tx.conn().execute("INSERT INTO setting (key, value) VALUES ('k', 'v')", vec![]).await.unwrap();
            assert!(tx.conn().setting("k").await.unwrap().is_some(), "visible inside the transaction");
        }
        assert_eq!(store.read().setting("k").await.unwrap(), None, "{:?}: gone after drop", store.dialect());
        // The writer is free again (SQLite) and a committed write stays.
        let mut tx = store.begin().await.unwrap();
        tx.conn().setting_or_insert("k", "w").await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(store.read().setting("k").await.unwrap().as_deref(), Some("w"));
        store.close().await;
        cleanup(file);
    }
}

/// Statements that insert a row, then the statement that breaks each constraint.
fn violation(constraint: Constraint) -> (&'static [&'static str], &'static str) {
    const USER: &str = "INSERT INTO app_user (id, uuid, username, date_joined) VALUES (1, 'u1', 'jane', 0)";
    const GROUP: &str = "INSERT INTO app_group (uuid, name) VALUES ('g1', 'g')";
    const SOURCE: &str = "INSERT INTO plex_source (uuid, name, slug, policy_engine_mode, user_matching_mode, \
        group_matching_mode, user_path_template, client_id, plex_token, managed) \
        VALUES ('s1', 'S', 'plex', 'any', 'identifier', 'identifier', 'p', 'c', 't', 'm')";
    const SOURCE2: &str = "INSERT INTO plex_source (uuid, name, slug, policy_engine_mode, user_matching_mode, \
        group_matching_mode, user_path_template, client_id, plex_token) \
        VALUES ('s2', 'S', 'plex2', 'any', 'identifier', 'identifier', 'p', 'c', 't')";
    const MAPPING: &str = "INSERT INTO property_mapping (uuid, name, expression, managed) VALUES ('m1', 'n', 'e', 'm')";
    const FLOW: &str =
        "INSERT INTO flow (uuid, slug, name, title, designation) VALUES ('f1', 'f', 'n', 't', 'authentication')";
    const TOKEN: &str = "INSERT INTO api_token (identifier, uuid, key_hash, key_encrypted, user_id, managed) \
        VALUES ('t', 'tu', 'h', 'e', 1, 'm')";
    const UCONN: &str =
        "INSERT INTO user_source_connection (user_id, source_uuid, identifier, plex_token, created, last_updated) \
        VALUES (1, 's1', '42', 't', 0, 0)";
    const GCONN: &str =
        "INSERT INTO group_source_connection (group_uuid, source_uuid, identifier, created, last_updated) \
        VALUES ('g1', 's1', 'x', 0, 0)";
    const PROVIDER: &str =
        "INSERT INTO provider (id, kind, name, authorization_flow, client_id) VALUES (1, 'oauth2', 'p', 'f1', 'c1')";
    const APP: &str = "INSERT INTO application (uuid, slug, name, provider_id) VALUES ('a1', 'app', 'A', 1)";
    match constraint {
        Constraint::ApplicationSlug => (&["INSERT INTO application (uuid, slug, name) VALUES ('a1', 'app', 'A')"], "INSERT INTO application (uuid, slug, name) VALUES ('a2', 'app', 'B')"),
        Constraint::ApplicationProvider => (&[FLOW, PROVIDER, APP], "INSERT INTO application (uuid, slug, name, provider_id) VALUES ('a2', 'app2', 'B', 1)"),
        Constraint::ProviderClientId => (&[FLOW, PROVIDER], "INSERT INTO provider (id, kind, name, authorization_flow, client_id) VALUES (2, 'proxy', 'q', 'f1', 'c1')"),
        Constraint::ProviderName => (&[FLOW, PROVIDER], "INSERT INTO provider (id, kind, name, authorization_flow, client_id) VALUES (2, 'proxy', 'p', 'f1', 'c2')"),
        Constraint::SourceSlug => (&[SOURCE], "UPDATE plex_source SET managed = NULL WHERE uuid = 's1'; INSERT INTO plex_source (uuid, name, slug, policy_engine_mode, user_matching_mode, group_matching_mode, user_path_template, client_id, plex_token) VALUES ('s3', 'S', 'plex', 'any', 'identifier', 'identifier', 'p', 'c', 't')"),
        Constraint::SourceManaged => (&[SOURCE, SOURCE2], "UPDATE plex_source SET managed = 'm' WHERE uuid = 's2'"),
        Constraint::FlowSlug => (&[FLOW], "INSERT INTO flow (uuid, slug, name, title, designation) VALUES ('f2', 'f', 'n', 't', 'authentication')"),
        Constraint::MappingName => (&[MAPPING], "INSERT INTO property_mapping (uuid, name, expression) VALUES ('m2', 'n', 'e')"),
        Constraint::MappingManaged => (&[MAPPING], "INSERT INTO property_mapping (uuid, name, expression, managed) VALUES ('m2', 'n2', 'e', 'm')"),
        Constraint::Username => (&[USER], "INSERT INTO app_user (id, uuid, username, date_joined) VALUES (2, 'u2', 'jane', 0)"),
        Constraint::UserUuid => (&[USER], "INSERT INTO app_user (id, uuid, username, date_joined) VALUES (2, 'u1', 'john', 0)"),
        Constraint::GroupNameParent => (&[GROUP, "INSERT INTO app_group (uuid, name) VALUES ('g2', 'h')", "UPDATE app_group SET parent = 'g2' WHERE uuid = 'g1'"], "INSERT INTO app_group (uuid, name, parent) VALUES ('g3', 'g', 'g2')"),
        Constraint::UserConnectionUserSource => (&[USER, SOURCE, UCONN], "INSERT INTO user_source_connection (user_id, source_uuid, identifier, plex_token, created, last_updated) VALUES (1, 's1', '43', 't', 0, 0)"),
        Constraint::UserConnectionSourceIdentifier => (&[USER, "INSERT INTO app_user (id, uuid, username, date_joined) VALUES (2, 'u2', 'john', 0)", SOURCE, UCONN], "INSERT INTO user_source_connection (user_id, source_uuid, identifier, plex_token, created, last_updated) VALUES (2, 's1', '42', 't', 0, 0)"),
        Constraint::GroupConnectionGroupSource => (&[GROUP, SOURCE, GCONN], "INSERT INTO group_source_connection (group_uuid, source_uuid, identifier, created, last_updated) VALUES ('g1', 's1', 'y', 0, 0)"),
        Constraint::GroupConnectionSourceIdentifier => (&[GROUP, "INSERT INTO app_group (uuid, name) VALUES ('g2', 'h')", SOURCE, GCONN], "INSERT INTO group_source_connection (group_uuid, source_uuid, identifier, created, last_updated) VALUES ('g2', 's1', 'x', 0, 0)"),
        Constraint::TokenIdentifier => (&[USER, TOKEN], "INSERT INTO api_token (identifier, uuid, key_hash, key_encrypted, user_id) VALUES ('t', 'tu2', 'h2', 'e', 1)"),
        Constraint::TokenUuid => (&[USER, TOKEN], "INSERT INTO api_token (identifier, uuid, key_hash, key_encrypted, user_id) VALUES ('t2', 'tu', 'h2', 'e', 1)"),
        Constraint::TokenKeyHash => (&[USER, TOKEN], "INSERT INTO api_token (identifier, uuid, key_hash, key_encrypted, user_id) VALUES ('t2', 'tu2', 'h', 'e', 1)"),
        Constraint::TokenManaged => (&[USER, TOKEN], "INSERT INTO api_token (identifier, uuid, key_hash, key_encrypted, user_id, managed) VALUES ('t2', 'tu2', 'h2', 'e', 1, 'm')"),
    }
}

#[tokio::test]
async fn every_unique_violation_names_its_constraint() {
    for (store, file) in stores().await {
        for constraint in Constraint::ALL {
            let (setup, breaking) = violation(*constraint);
            let mut tx = store.begin().await.unwrap();
            let mut conn = tx.conn();
            for statement in setup {
                conn.execute(statement, vec![]).await.unwrap_or_else(|e| panic!("{constraint:?} setup: {e}"));
            }
            let mut result = Ok(0);
            for statement in breaking.split("; ") {
                result = conn.execute(statement, vec![]).await;
                if result.is_err() {
                    break;
                }
            }
            match result {
                Err(StoreError::Unique(found)) => assert_eq!(found, *constraint, "{:?}", store.dialect()),
                other => panic!("{:?} {constraint:?}: expected a unique violation, got {other:?}", store.dialect()),
            }
            // dropped: rolled back, so the next case starts from an empty database
        }
        store.close().await;
        cleanup(file);
    }
}

/// Migration 11 (unique provider names) keeps the oldest provider's name and appends the id to
/// the names of later providers that repeat it, so a database from before it still migrates.
#[tokio::test]
async fn migration_11_renames_repeated_provider_names() {
    for (store, file) in stores().await {
        let mut tx = store.begin().await.unwrap();
        let mut conn = tx.conn();
        let drop = match store.dialect() {
            Dialect::Sqlite => "DROP INDEX provider_name_key",
            Dialect::Postgres => "ALTER TABLE provider DROP CONSTRAINT provider_name_key",
        };
        for statement in [
            drop,
            "DELETE FROM plexid_migration WHERE version = 11",
            "INSERT INTO flow (uuid, slug, name, title, designation) VALUES ('f1', 'f', 'n', 't', 'authorization')",
            "INSERT INTO provider (id, kind, name, authorization_flow, client_id) VALUES (1, 'oauth2', 'p', 'f1', 'c1')",
            "INSERT INTO provider (id, kind, name, authorization_flow, client_id) VALUES (2, 'proxy', 'p', 'f1', 'c2')",
            "INSERT INTO provider (id, kind, name, authorization_flow, client_id) VALUES (3, 'oauth2', 'q', 'f1', 'c3')",
        ] {
            conn.execute(statement, vec![]).await.unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
        tx.commit().await.unwrap();
        assert_eq!(store.migrate().await.unwrap(), 1);
        let rows = store.read().fetch_all("SELECT name FROM provider ORDER BY id", vec![]).await.unwrap();
        let names: Vec<String> = rows.iter().map(|r| r.text("name").unwrap()).collect();
        assert_eq!(names, ["p", "p (2)", "q"], "{:?}", store.dialect());
        store.close().await;
        cleanup(file);
    }
}

/// SQLite commits are durable by default (`synchronous=FULL` on the connection that writes);
/// `?synchronous=normal` is the documented knob, and a wrong value is refused.
#[tokio::test]
async fn sqlite_commits_are_durable_by_default() {
    let synchronous = |url: String| async move {
        let store = Store::connect(&url).await.unwrap();
        let mut tx = store.begin().await.unwrap();
        let level = tx.conn().fetch_one("PRAGMA synchronous", vec![]).await.unwrap().int("synchronous").unwrap();
        drop(tx);
        store.close().await;
        level
    };
    let path = std::env::temp_dir().join(format!("plexid-sync-{}.db", uuid::Uuid::new_v4().simple()));
    assert_eq!(synchronous(format!("sqlite://{}", path.display())).await, 2, "FULL");
    assert_eq!(synchronous(format!("sqlite://{}?synchronous=normal", path.display())).await, 1, "NORMAL");
    let refused = Store::connect(&format!("sqlite://{}?synchronous=off", path.display())).await;
    assert!(matches!(refused, Err(StoreError::Config(_))));
    cleanup(Some(path));
}

/// PostgreSQL's read cache follows every write: this instance's at once, another instance's
/// within a poll of the snapshot, whatever the table. No table notifies for it any more
/// (migration 13): a notifying transaction commits under a cluster-wide lock.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_read_cache_follows_writes_of_every_instance() {
    let url = postgres_schema().await;
    let (a, b) = (Store::connect(&url).await.unwrap(), Store::connect(&url).await.unwrap());
    a.migrate().await.unwrap();
    b.migrate().await.unwrap();
    let notifying: Vec<String> = a
        .read()
        .fetch_all(
            "SELECT c.relname::text AS t FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid \
             WHERE c.relnamespace = current_schema()::regnamespace AND g.tgname = 'plexid_data_changed'",
            vec![],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.text("t").unwrap())
        .collect();
    assert!(notifying.is_empty(), "tables still notifying every write: {notifying:?}");

    let count = |store: Store| async move {
        let sql = "SELECT COUNT(*) AS n FROM plexid_migration";
        store.read().fetch_one(sql, vec![]).await.unwrap().int("n").unwrap()
    };
    let insert = |store: Store, version: i64| async move {
        let mut tx = store.begin().await.unwrap();
        let sql = "INSERT INTO plexid_migration (version, name) VALUES ($1, 'test')";
        tx.conn().execute(sql, plexid_store::params![version]).await.unwrap();
        tx.commit().await.unwrap();
    };
    // The listeners are up once a generation exists.
    for store in [&a, &b] {
        for _ in 0..100 {
            if store.data_generation().is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    let before = count(a.clone()).await;
    insert(a.clone(), 1001).await;
    assert_eq!(count(a.clone()).await, before + 1, "an instance reads its own write at once");
    insert(b.clone(), 1002).await;
    let started = std::time::Instant::now();
    let mut seen = count(a.clone()).await;
    while seen != before + 2 && started.elapsed() < std::time::Duration::from_secs(2) {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        seen = count(a.clone()).await;
    }
    assert_eq!(seen, before + 2, "another instance's write is seen within a poll");
    let bound = plexid_store::changes::POLL_EVERY * 5;
    assert!(started.elapsed() < bound, "seen after {:?} (bound {bound:?})", started.elapsed());

    // The cache is in use: while the generation stands (no poll since), another instance's
    // write is not seen yet. Under load a poll may land in between: the check counts only when
    // the generation stood still from the cached read to the last one.
    let mut checked = false;
    for version in 1003..1023 {
        let before = a.data_generation();
        let cached = count(a.clone()).await;
        insert(b.clone(), version).await;
        let now = count(a.clone()).await;
        if before.is_some() && before == a.data_generation() {
            assert_eq!(now, cached, "read from the cache until the next poll");
            checked = true;
            break;
        }
    }
    assert!(checked, "the generation never stood still between two reads");
    a.close().await;
    b.close().await;
}

/// Reads that miss PostgreSQL's read cache together run the statement once: the others wait for
/// its rows, so an expensive list under load is read once per change, not once per request.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_reads_that_miss_together_run_once() {
    let url = postgres_schema().await;
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.conn().execute("CREATE SEQUENCE single_flight", vec![]).await.unwrap();
    tx.commit().await.unwrap();
    for _ in 0..100 {
        if store.data_generation().is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // A slow read with a visible effect: each run of the statement takes the next number.
    let sql = "SELECT nextval('single_flight') AS n FROM pg_sleep(0.3)";
    let mut checked = false;
    for _ in 0..10 {
        let before = store.data_generation();
        let reads: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.read().fetch_one(sql, vec![]).await.unwrap().int("n").unwrap() })
            })
            .collect();
        let mut numbers = Vec::new();
        for read in reads {
            numbers.push(read.await.unwrap());
        }
        if before.is_some() && before == store.data_generation() {
            numbers.dedup();
            assert_eq!(numbers.len(), 1, "the statement ran once for all eight: {numbers:?}");
            checked = true;
            break;
        }
    }
    assert!(checked, "the generation never stood still for the eight reads");
    store.close().await;
}

/// Long reads (lists, counts) that miss SQLite's read cache together run the statement once:
/// the others wait for its rows.
#[tokio::test(flavor = "multi_thread")]
async fn sqlite_reads_that_miss_together_run_once() {
    let path = std::env::temp_dir().join(format!("{}.db", unique("plexid-flight-")));
    let store = Store::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    store.migrate().await.unwrap();
    // A slow read with a visible effect: each run of the statement draws another random number.
    let sql = "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 3000000) \
               SELECT random() AS n, (SELECT count(*) FROM c) AS k";
    let reads: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.read().fetch_all(sql, vec![]).await.unwrap()[0].int("n").unwrap() })
        })
        .collect();
    let mut numbers = Vec::new();
    for read in reads {
        numbers.push(read.await.unwrap());
    }
    numbers.dedup();
    assert_eq!(numbers.len(), 1, "the statement ran once for all eight: {numbers:?}");
    store.close().await;
    let _ = std::fs::remove_file(&path);
}

/// SQLite's generation (the read cache's and the auth caches') stands while nothing is
/// committed, and moves on at the first check after another process's commit to the same file
/// (here another store, with connections of its own) and at once after this one's own.
#[tokio::test(flavor = "multi_thread")]
async fn sqlite_generation_follows_every_commit_to_the_file() {
    let path = std::env::temp_dir().join(format!("{}.db", unique("plexid-gen-")));
    let url = format!("sqlite://{}", path.display());
    let (a, b) = (Store::connect(&url).await.unwrap(), Store::connect(&url).await.unwrap());
    a.migrate().await.unwrap();
    let insert = |store: Store, version: i64| async move {
        let mut tx = store.begin().await.unwrap();
        let sql = "INSERT INTO plexid_migration (version, name) VALUES ($1, 'test')";
        tx.conn().execute(sql, plexid_store::params![version]).await.unwrap();
        tx.commit().await.unwrap();
    };
    let first = a.auth_generation().expect("SQLite always has a generation");
    assert_eq!(a.auth_generation(), Some(first), "nothing committed");
    assert_eq!(a.data_generation(), Some(first), "one generation for both caches");
    insert(b.clone(), 1001).await;
    let second = a.auth_generation().unwrap();
    assert!(second > first, "another process's commit, at the first check");
    insert(a.clone(), 1002).await;
    assert!(a.auth_generation().unwrap() > second, "this store's own commit");
    a.close().await;
    b.close().await;
    cleanup(Some(path));
}

/// `fetch_optional` is the first row on every engine and connection, as `LIMIT 1` would give
/// it (a PostgreSQL transaction used to return the last).
#[tokio::test]
async fn fetch_optional_is_the_first_row_everywhere() {
    for (store, file) in stores().await {
        let mut tx = store.begin().await.unwrap();
        let mut conn = tx.conn();
        for (key, value) in [("b", "2"), ("a", "1"), ("c", "3")] {
            conn.execute("INSERT INTO setting (key, value) VALUES ($1, $2)", vec![key.into(), value.into()])
                .await
                .unwrap();
        }
        let sql = "SELECT key FROM setting WHERE key IN ('a', 'b', 'c') ORDER BY key";
        let first = conn.fetch_optional(sql, vec![]).await.unwrap().unwrap();
        assert_eq!(first.text("key").unwrap(), "a", "{:?} in a transaction", store.dialect());
        tx.commit().await.unwrap();
        let first = store.read().fetch_optional(sql, vec![]).await.unwrap().unwrap();
        assert_eq!(first.text("key").unwrap(), "a", "{:?} outside", store.dialect());
        store.close().await;
        cleanup(file);
    }
}

/// SQLite reads that may take long (many rows, counts) run off the runtime's threads: four slow
/// reads at once on a runtime of two worker threads do not stall its other tasks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_sqlite_reads_run_off_the_runtime() {
    let path = std::env::temp_dir().join(format!("{}.db", unique("plexid-store-test-")));
    let store = Store::connect(&format!("sqlite://{}?read_cache=off", path.display())).await.unwrap();
    store.migrate().await.unwrap();
    let slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000) \
                SELECT x FROM c WHERE x % 250000 = 0";
    let started = std::time::Instant::now();
    store.read().fetch_all(slow, vec![]).await.unwrap();
    let one = started.elapsed();
    let mut reads = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let store = store.clone();
        reads.spawn(async move { store.read().fetch_all(slow, vec![]).await.map(|rows| rows.len()) });
    }
    let ticker = tokio::spawn(async {
        let started = std::time::Instant::now();
        for _ in 0..5 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        started.elapsed()
    });
    let ticked = ticker.await.unwrap();
    assert!(ticked < one / 2 + std::time::Duration::from_millis(100), "stalled {ticked:?} (one read: {one:?})");
    for read in reads.join_all().await {
        assert_eq!(read.unwrap(), 4);
    }
    store.close().await;
    cleanup(Some(path));
}

/// The token check and the access sweep each write only their own columns of a source's state,
/// so neither can overwrite the other's, even when they write at the same moment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_write_only_their_own_source_state_columns() {
    for (store, file) in stores().await {
        let source = plexid_core::SourceId(uuid::Uuid::new_v4());
        let mut tx = store.begin().await.unwrap();
        tx.conn()
            .execute(
                "INSERT INTO plex_source (uuid, name, slug, policy_engine_mode, user_matching_mode, \
                 group_matching_mode, user_path_template, client_id, plex_token) \
                 VALUES ($1, 'p', 'p', 'any', 'identifier', 'identifier', 'p', 'c', '')",
                plexid_store::params![source],
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let at = |s: i64| plexid_core::Timestamp::from_second(1_800_000_000 + s).unwrap();
        let mut writes = tokio::task::JoinSet::new();
        for i in 0..20 {
            let store = store.clone();
            writes.spawn(async move {
                let mut tx = store.begin().await.unwrap();
                if i % 2 == 0 {
                    tx.conn().save_token_state(source, "valid", at(i)).await.unwrap();
                } else {
                    let summary = serde_json::json!({"checked": i}).as_object().unwrap().clone();
                    tx.conn().save_sweep_state(source, at(i), &summary).await.unwrap();
                }
                tx.commit().await.unwrap();
            });
        }
        writes.join_all().await;
        let state = store.read().source_state(source).await.unwrap();
        assert_eq!(state.token_state, "valid");
        assert!(state.token_checked.is_some() && state.sweep_finished.is_some(), "{state:?}");
        let mut tx = store.begin().await.unwrap();
        tx.conn().save_token_state(source, "rejected", at(100)).await.unwrap();
        tx.commit().await.unwrap();
        let after = store.read().source_state(source).await.unwrap();
        assert_eq!((after.sweep_finished, &after.sweep_summary), (state.sweep_finished, &state.sweep_summary));
        assert_eq!((after.token_state.as_str(), after.token_checked), ("rejected", Some(at(100))));
        store.close().await;
        cleanup(file);
    }
}
