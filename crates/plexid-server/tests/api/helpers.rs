//! The test harness: a real plexid server on 127.0.0.1 (port 0) with a fresh database, on
//! SQLite or PostgreSQL, and an HTTP client with the bootstrap admin's token.

use std::path::PathBuf;

use fake_plex::FakePlex;
use plexid_server::clock::Clock;
use plexid_server::config::Settings;
use plexid_server::crypto::Secrets;
use plexid_server::state::AppState;
use plexid_server::Server;
use plexid_store::Store;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::oneshot;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs an async test case on both backends. `both!(name, case)` declares `name::sqlite` and
/// `name::postgres` tests that call `case(&TestApp)`; `settings(|s| …)` adjusts the server's
/// settings first; `manual_clock` gives it a clock that stands still until the test moves it
/// (`app.state.clock`); `manual_clock_settings(|s| …)` both.
#[macro_export]
macro_rules! both {
    ($name:ident, $case:ident) => {
        $crate::both!($name, $case, settings(|_| {}));
    };
    ($name:ident, $case:ident, settings($configure:expr)) => {
        $crate::both!(@tests $name, $case, plexid_server::clock::Clock::system(), $configure);
    };
    ($name:ident, $case:ident, manual_clock) => {
        $crate::both!($name, $case, manual_clock_settings(|_| {}));
    };
    ($name:ident, $case:ident, manual_clock_settings($configure:expr)) => {
        $crate::both!(
            @tests $name,
            $case,
            plexid_server::clock::Clock::manual(plexid_server::clock::Clock::system().now()),
            $configure
        );
    };
    (@tests $name:ident, $case:ident, $clock:expr, $configure:expr) => {
        mod $name {
            async fn spawn(backend: $crate::helpers::Backend) -> $crate::helpers::TestApp {
                $crate::helpers::TestApp::spawn_with_clock(backend, $clock, $configure).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$case(&spawn($crate::helpers::Backend::Sqlite).await).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$case(&spawn($crate::helpers::Backend::Postgres).await).await;
            }
        }
    };
}

pub struct TestApp {
    pub base: String,
    pub token: String,
    pub store: Store,
    pub secrets: Secrets,
    /// The server's state (to run background jobs and move its clock).
    pub state: AppState,
    /// The stand-in plex.tv this server talks to.
    pub plex: FakePlex,
    client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    sqlite_file: Option<PathBuf>,
}

/// The PostgreSQL server for tests; `scripts/test` and `.ci/run` set it.
pub fn postgres_url() -> String {
    std::env::var("PLEXID_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!(
            "PLEXID_TEST_POSTGRES_URL is not set: run the tests with scripts/test (it points them at 127.0.0.1:5432)"
        )
    })
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

/// A fresh, empty database: a temporary SQLite file, or a new PostgreSQL schema.
pub async fn fresh_database(backend: Backend) -> (String, Option<PathBuf>) {
    match backend {
        Backend::Sqlite => {
            let path = std::env::temp_dir().join(format!("{}.db", unique("plexid-test-")));
            (format!("sqlite://{}", path.display()), Some(path))
        }
        Backend::Postgres => {
            let base = postgres_url();
            let schema = unique("t_");
            let admin = Store::connect(&base).await.expect("connect to PLEXID_TEST_POSTGRES_URL");
            let mut tx = admin.begin().await.expect("begin");
            tx.conn().execute(&format!("CREATE SCHEMA {schema}"), vec![]).await.expect("create schema");
            tx.commit().await.expect("commit");
            admin.close().await;
            let separator = if base.contains('?') { '&' } else { '?' };
            (format!("{base}{separator}options=-c%20search_path%3D{schema}"), None)
        }
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    /// A server whose settings `configure` adjusts (they start pointed at a fresh `FakePlex`,
    /// with background jobs off: tests run them).
    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
        Self::spawn_with_clock(backend, Clock::system(), configure).await
    }

    /// As [`TestApp::spawn_with`], reading time from `clock` (a manual one lets tests move it).
    pub async fn spawn_with_clock(backend: Backend, clock: Clock, configure: impl FnOnce(&mut Settings)) -> TestApp {
        let plex = FakePlex::start().await.expect("fake plex.tv starts");
        let (database_url, sqlite_file) = fresh_database(backend).await;
        Self::start(&database_url, sqlite_file, plex, clock, unique("test-token-"), configure).await
    }

    /// Another instance on this one's database and plex.tv stand-in (with its own token cache,
    /// limits and job runner), as when several instances share one PostgreSQL database.
    pub async fn second_instance(&self) -> TestApp {
        self.second_instance_with(|_| {}).await
    }

    /// As [`TestApp::second_instance`], with settings `configure` adjusts.
    pub async fn second_instance_with(&self, configure: impl FnOnce(&mut Settings)) -> TestApp {
        let database_url = self.state.settings.db.database.clone();
        Self::start(&database_url, None, self.plex.clone(), Clock::system(), self.token.clone(), configure).await
    }

    /// Another instance on this one's database (or `database`, a URL to the same one through
    /// something in between) and plex.tv stand-in, reading time from `clock`, with settings
    /// adjusted by `configure`.
    pub async fn another_instance(
        &self,
        database: Option<&str>,
        clock: Clock,
        configure: impl FnOnce(&mut Settings),
    ) -> TestApp {
        let database_url = database.map_or_else(|| self.state.settings.db.database.clone(), str::to_owned);
        Self::start(&database_url, None, self.plex.clone(), clock, self.token.clone(), configure).await
    }

    async fn start(
        database_url: &str,
        sqlite_file: Option<PathBuf>,
        plex: FakePlex,
        clock: Clock,
        token: String,
        configure: impl FnOnce(&mut Settings),
    ) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let mut settings = Settings::for_database(database_url);
        // Forward-auth needs the public address; the tests reach plexid directly.
        settings.public_url = Some(format!("http://{}", listener.local_addr().unwrap()));
        settings.bootstrap_token = Some(token.clone());
        settings.plex_api_url = plex.url();
        settings.plex_app_url = plex.app_url();
        settings.jobs = false;
        settings.plex_timeout = plexid_server::config::Period::secs(2);
        settings.mapping_worker = Some(PathBuf::from(env!("CARGO_BIN_EXE_plexid")));
        configure(&mut settings);
        let server = Server::bind_to(Some(listener), settings, clock).await.expect("server starts");
        let base = format!("http://{}", server.address);
        let store = server.state.store.clone();
        let secrets = server.state.secrets.clone();
        let state = server.state.clone();
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(server.run(async {
            let _ = rx.await;
        }));
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        TestApp { base, token, store, secrets, state, plex, client, shutdown: Some(tx), sqlite_file }
    }

    /// Sends a request; `token` None means no Authorization header. Returns status and the body
    /// as JSON (`Value::Null` for an empty body, a string for non-JSON).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        if let Some(body) = body {
            request = request.header("Content-Type", "application/json").body(body.to_owned());
        }
        let response = request.send().await.expect("request is answered");
        let status = response.status();
        let text = response.text().await.expect("body is read");
        let value =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, value)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::GET, path, Some(&self.token), None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, Some(&self.token), Some(&body.to_string())).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::PUT, path, Some(&self.token), Some(&body.to_string())).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::PATCH, path, Some(&self.token), Some(&body.to_string())).await
    }

    pub async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::DELETE, path, Some(&self.token), None).await
    }

    /// Creates a user (not a superuser) with these global permissions and a non-expiring API
    /// token, all through the API; returns the token's key.
    pub async fn user_with_permissions(&self, username: &str, permissions: &[&str]) -> String {
        let (status, user) =
            self.post("/api/v3/core/users/", serde_json::json!({"username": username, "name": username})).await;
        assert_eq!(status, 201, "{user}");
        let id = user["pk"].as_i64().unwrap();
        if !permissions.is_empty() {
            let path = format!("/api/v3/rbac/permissions/assigned_by_users/{id}/assign/");
            let (status, body) = self.post(&path, serde_json::json!({"permissions": permissions})).await;
            assert_eq!(status, 200, "{body}");
        }
        let identifier = unique("token-");
        let body = serde_json::json!({"identifier": identifier, "user": id, "expiring": false});
        let (status, token) = self.post("/api/v3/core/tokens/", body).await;
        assert_eq!(status, 201, "{token}");
        let (_, view) = self.get(&format!("/api/v3/core/tokens/{identifier}/view_key/")).await;
        view["key"].as_str().unwrap().to_owned()
    }

    /// Runs a statement directly on the database (to set up states the API cannot reach).
    pub async fn sql(&self, statement: &str) {
        let mut tx = self.store.begin().await.unwrap();
        tx.conn().execute(statement, vec![]).await.unwrap();
        tx.commit().await.unwrap();
    }

    /// Creates a Plex source through the API and returns its representation.
    pub async fn create_source(&self, slug: &str) -> Value {
        let (status, body) = self
            .post("/api/v3/sources/plex/", serde_json::json!({"name": slug, "slug": slug, "plex_token": "tok"}))
            .await;
        assert_eq!(status, 201, "{body}");
        body
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(path) = &self.sqlite_file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
    }
}

/// The fixtures copied into the repository (authentik's recorded samples and schema subsets).
pub fn fixtures() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The observed authentik sample body `NN-….body.json`.
pub fn sample(name: &str) -> Value {
    let text = sample_text(name);
    if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    }
}

/// The top-level keys of a JSON object in document order (serde_json's `Value` sorts them).
pub fn ordered_keys(text: &str) -> Vec<String> {
    struct Keys;
    impl<'de> serde::de::Visitor<'de> for Keys {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Vec<String>, A::Error> {
            let mut keys = Vec::new();
            while let Some((key, _)) = map.next_entry::<String, serde::de::IgnoredAny>()? {
                keys.push(key);
            }
            Ok(keys)
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    serde::Deserializer::deserialize_map(&mut de, Keys).expect("a JSON object")
}

/// The raw text of an authentik sample body.
pub fn sample_text(name: &str) -> String {
    let path = fixtures().join("authentik-2024.6-samples").join(format!("{name}.body.json"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("sample {}: {e}", path.display()))
}

impl TestApp {
    /// The raw body text of an admin request.
    pub async fn raw(&self, method: Method, path: &str, body: Option<&str>) -> String {
        let mut request = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.header("Content-Type", "application/json").body(body.to_owned());
        }
        request.send().await.unwrap().text().await.unwrap()
    }
}
