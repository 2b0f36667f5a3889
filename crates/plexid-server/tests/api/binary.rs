//! The `plexid` binary as a user runs it: serve (and stop on SIGTERM), migrate, create-token.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{fresh_database, Backend};
use crate::process::Group;

/// How many migrations plexid has (crates/plexid-store/migrations).
const MIGRATIONS: i64 = plexid_store::MIGRATION_COUNT as i64;

const PLEXID: &str = env!("CARGO_BIN_EXE_plexid");

async fn serve_and_stop(backend: Backend) {
    let (database, file) = fresh_database(backend).await;
    let migrated = Command::new(PLEXID).args(["migrate", "--database", &database]).output().unwrap();
    assert!(migrated.status.success(), "{migrated:?}");
    assert_eq!(String::from_utf8_lossy(&migrated.stdout).trim(), format!("applied {MIGRATIONS} migration(s)"));
    let created = Command::new(PLEXID)
        .args(["create-token", "--database", &database])
        .env("PLEXID_SECRET_KEY", "k")
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let key = String::from_utf8(created.stdout).unwrap().trim().to_owned();
    assert_eq!(key.len(), 64);

    let mut group = Group::spawn(
        Command::new(PLEXID)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("PLEXID_DATABASE", &database)
            .env("PLEXID_SECRET_KEY", "k")
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    )
    .unwrap();
    let child = group.child();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first.strip_prefix("plexid listening on ").unwrap().split(' ').next().unwrap().to_owned();
    assert!(lines.next().unwrap().unwrap().contains("create-token"), "says how to get a token");
    assert!(lines.next().unwrap().unwrap().contains(&format!("{url}/if/admin/")), "says where the admin pages are");
    let client = reqwest::Client::new();
    assert_eq!(client.get(format!("{url}/-/health/ready/")).send().await.unwrap().status(), 200);
    let listed = client.get(format!("{url}/api/v3/sources/plex/")).bearer_auth(&key).send().await.unwrap();
    assert_eq!(listed.status(), 200, "the token from create-token works");

    // A token created by another process while the server runs works at once (the server's
    // read cache notices commits from other processes).
    let fresh = Command::new(PLEXID)
        .args(["create-token", "--database", &database])
        .env("PLEXID_SECRET_KEY", "k")
        .output()
        .unwrap();
    assert!(fresh.status.success(), "{fresh:?}");
    let fresh = String::from_utf8(fresh.stdout).unwrap().trim().to_owned();
    let listed = client.get(format!("{url}/api/v3/sources/plex/")).bearer_auth(&fresh).send().await.unwrap();
    assert_eq!(listed.status(), 200);

    let started = Instant::now();
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "graceful shutdown exits 0, got {status}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "plexid did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if let Some(path) = file {
        let _ = std::fs::remove_file(path);
    }
}

#[tokio::test]
async fn serve_and_stop_sqlite() {
    serve_and_stop(Backend::Sqlite).await;
}

#[tokio::test]
async fn serve_and_stop_postgres() {
    serve_and_stop(Backend::Postgres).await;
}

#[test]
fn bad_database_urls_are_refused_clearly() {
    let output = Command::new(PLEXID).args(["migrate", "--database", "mysql://u:secret@h/db"]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("unsupported database URL"), "{stderr}");
    assert!(!stderr.contains("secret"), "passwords are not printed: {stderr}");
}

/// `plexid demo` as the README says, with the most verbose logs: the demo accounts sign in or
/// are refused, and no Plex token appears in anything it prints.
#[tokio::test]
async fn the_demo_signs_people_in_and_logs_no_token() {
    let (database, file) = fresh_database(Backend::Sqlite).await;
    let mut group = Group::spawn(
        Command::new(PLEXID)
            .args(["demo", "--listen", "127.0.0.1:0", "--plex-listen", "127.0.0.1:0", "--database", &database])
            .env("PLEXID_LOG", "trace")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .unwrap();
    let child = group.child();
    let stderr = child.stderr.take().unwrap();
    let logs = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap());
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first.split("open ").nth(1).unwrap().split('/').take(3).collect::<Vec<_>>().join("/");
    let rest: Vec<String> = lines.by_ref().take(10).map(Result::unwrap).collect();
    assert!(rest.iter().any(|l| l.contains("demo-stranger")), "{rest:?}");
    assert!(
        rest.iter().any(|l| l.contains(&format!("{url}/if/admin/"))),
        "the banner points at the admin pages: {rest:?}"
    );
    let client = reqwest::Client::new();
    let redeem = |token: &'static str| {
        client
            .post(format!("{url}/api/v3/sources/plex/redeem_token/?slug=plex"))
            .header("Content-Type", "application/json")
            .body(format!("{{\"plex_token\": \"{token}\"}}"))
            .send()
    };
    for (token, status) in [
        ("demo-owner-token", 200),
        ("demo-friend-token", 200),
        ("demo-member-token", 200),
        ("demo-stranger-token", 403),
        ("not-a-token", 403),
    ] {
        let answer = redeem(token).await.unwrap();
        assert_eq!(answer.status(), status, "{token}");
        let body = answer.text().await.unwrap();
        assert!(!body.contains("-token"), "{body}");
    }
    // The demo server's owner was made an administrator at their first sign-in.
    let owner = redeem("demo-owner-token").await.unwrap();
    let session = owner.headers().get_all("set-cookie").iter().find_map(|v| {
        v.to_str()
            .ok()
            .and_then(|c| c.split(';').next())
            .filter(|c| c.starts_with("plexid_session="))
            .map(str::to_owned)
    });
    let me =
        client.get(format!("{url}/api/v3/core/users/me/")).header("Cookie", session.unwrap()).send().await.unwrap();
    let me: serde_json::Value = me.json().await.unwrap();
    assert_eq!(
        (me["user"]["username"].as_str(), me["user"]["is_superuser"].as_bool()),
        (Some("demo-owner"), Some(true))
    );
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    assert!(child.wait().unwrap().success());
    let logs = logs.join().unwrap();
    assert!(logs.contains("plex.tv") || logs.contains("redeem_token") || logs.len() > 1000, "trace logs were written");
    for token in ["demo-owner-token", "demo-friend-token", "demo-member-token", "demo-stranger-token"] {
        assert!(!logs.contains(token), "{token} in the logs");
    }
    if let Some(path) = file {
        let _ = std::fs::remove_file(path);
    }
}

/// Starts `plexid serve` on `database` with the bootstrap `token`; returns the process and its URL.
fn start_serve(database: &str, token: &str) -> (Group, String) {
    let mut group = Group::spawn(
        Command::new(PLEXID)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("PLEXID_DATABASE", database)
            .env("PLEXID_SECRET_KEY", "shared-secret")
            .env("PLEXID_BOOTSTRAP_TOKEN", token)
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    )
    .unwrap();
    let mut lines = BufReader::new(group.child().stdout.take().unwrap()).lines();
    let first = lines.next().expect("plexid started").unwrap();
    // Keep reading what it prints, as a terminal would.
    std::thread::spawn(move || lines.for_each(drop));
    let url = first.strip_prefix("plexid listening on ").unwrap().split(' ').next().unwrap().to_owned();
    (group, url)
}

/// POSTs `body` to `path` `count` times at once, alternating between the servers; the statuses.
async fn race(urls: &[String], token: &str, path: &str, body: serde_json::Value, count: usize) -> Vec<u16> {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..count {
        let url = format!("{}{path}", urls[i % urls.len()]);
        let (token, body) = (token.to_owned(), body.clone());
        tasks.spawn(async move {
            reqwest::Client::new().post(url).bearer_auth(token).json(&body).send().await.unwrap().status().as_u16()
        });
    }
    let mut statuses = tasks.join_all().await;
    statuses.sort_unstable();
    statuses
}

/// Two plexid processes on one empty PostgreSQL database: both start at once (the migrations
/// are applied once), and simultaneous creates of the same slug, username and connection give
/// exactly one 201 and 400s, never a 500 or a duplicate.
#[tokio::test]
async fn two_processes_on_one_postgres_database() {
    let (database, _) = fresh_database(Backend::Postgres).await;
    let token = "race-token-0123456789abcdef";
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| start_serve(&database, token));
        let b = s.spawn(|| start_serve(&database, token));
        (a.join().unwrap(), b.join().unwrap())
    });
    let urls = vec![a.1.clone(), b.1.clone()];
    let store = plexid_store::Store::connect(&database).await.unwrap();
    let applied = store.read().fetch_one("SELECT COUNT(*) AS n FROM plexid_migration", vec![]).await.unwrap();
    assert_eq!(applied.int("n").unwrap(), MIGRATIONS, "each migration applied once");

    let expect_one = |statuses: Vec<u16>, what: &str| {
        assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{what}: {statuses:?}");
        assert!(statuses.iter().all(|s| *s == 201 || *s == 400), "{what}: {statuses:?}");
    };
    let source = serde_json::json!({"name": "Race", "slug": "race", "plex_token": "t"});
    expect_one(race(&urls, token, "/api/v3/sources/plex/", source, 10).await, "same slug");
    let user = serde_json::json!({"username": "racer", "name": "Racer"});
    expect_one(race(&urls, token, "/api/v3/core/users/", user, 10).await, "same username");
    let listed: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/api/v3/core/users/?username=racer", urls[0]))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let uid = listed["results"][0]["pk"].as_i64().unwrap();
    let connection = serde_json::json!({"user": uid, "source": "race", "identifier": "4242", "plex_token": "p"});
    expect_one(race(&urls, token, "/api/v3/sources/user_connections/plex/", connection, 10).await, "same connection");
    for (table, expected) in
        [("plex_source", 1), ("app_user WHERE username = 'racer'", 1), ("user_source_connection", 1)]
    {
        let row = store.read().fetch_one(&format!("SELECT COUNT(*) AS n FROM {table}"), vec![]).await.unwrap();
        assert_eq!(row.int("n").unwrap(), expected, "{table}");
    }
    store.close().await;
    drop((a, b));
}

/// The secret key plexid generated into the database moves out of it into a file; plexid then
/// reads it from `PLEXID_SECRET_KEY_FILE` and still decrypts what the old key encrypted.
#[tokio::test]
async fn the_secret_key_moves_out_of_the_database() {
    let (database, file) = fresh_database(Backend::Sqlite).await;
    let created = Command::new(PLEXID).args(["create-token", "--database", &database]).output().unwrap();
    assert!(created.status.success(), "{created:?}");
    let key = String::from_utf8(created.stdout).unwrap().trim().to_owned();
    let key_file = std::env::temp_dir().join(format!("plexid-secret-{}", uuid::Uuid::new_v4()));
    let moved = Command::new(PLEXID)
        .args(["move-secret-key", "--database", &database, "--to", key_file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(moved.status.success(), "{moved:?}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
    let store = plexid_store::Store::connect(&database).await.unwrap();
    assert_eq!(store.read().setting("secret_key").await.unwrap(), None, "no longer in the database");
    // A second move finds nothing to move and does not overwrite the file.
    let again = Command::new(PLEXID)
        .args(["move-secret-key", "--database", &database, "--to", key_file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!again.status.success());
    // plexid reads the file, and the token encrypted under the old key still decrypts.
    let mut settings = plexid_server::config::Settings::for_database(&database);
    settings.secret_key_file = Some(key_file.clone());
    let (store, secrets) =
        plexid_server::startup::prepare(&settings, &plexid_server::clock::Clock::system()).await.unwrap();
    let rows = store.read().fetch_all("SELECT key_encrypted FROM api_token", vec![]).await.unwrap();
    let decrypted: Vec<String> =
        rows.iter().filter_map(|r| secrets.decrypt(&r.text("key_encrypted").unwrap()).ok()).collect();
    assert!(decrypted.contains(&key), "the moved key decrypts the token made before the move");
    assert_eq!(store.read().setting("secret_key").await.unwrap(), None, "and none was generated again");
    // A key file that cannot be read stops start-up with the setting's name.
    settings.secret_key_file = Some(key_file.with_extension("missing"));
    let error = plexid_server::startup::prepare(&settings, &plexid_server::clock::Clock::system()).await.err().unwrap();
    assert!(error.to_string().contains("PLEXID_SECRET_KEY_FILE"), "{error}");
    let _ = std::fs::remove_file(&key_file);
    if let Some(path) = file {
        let _ = std::fs::remove_file(path);
    }
}

/// A setting beyond its bound stops start-up with a message naming it (issue 19: a session idle
/// time past jiff's range used to panic on every authenticated request).
#[test]
fn a_setting_beyond_its_bound_is_refused_at_start_up_by_name() {
    let dir = std::env::temp_dir().join(format!("plexid-bounds-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, value, expected) in [
        ("PLEXID_SESSION_IDLE", "999999999999", "plexid: PLEXID_SESSION_IDLE must be at most 87600h"),
        ("PLEXID_ACCESS_CHECK_INTERVAL", "99999999999", "plexid: PLEXID_ACCESS_CHECK_INTERVAL must be at most 720h"),
        ("PLEXID_MAPPING_WORKERS", "0", "plexid: PLEXID_MAPPING_WORKERS must be between 1 and 64"),
    ] {
        let output = Command::new(PLEXID)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("PLEXID_DATABASE", format!("sqlite://{}", dir.join("x.db").display()))
            .env(name, value)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{name}: {stderr}");
        assert_eq!(stderr.trim(), expected);
    }
    let _ = std::fs::remove_dir_all(dir);
}
