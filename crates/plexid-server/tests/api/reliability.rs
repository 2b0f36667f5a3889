//! Issue 19: nothing a request or a setting can crash, caches that cannot go stale, jobs that
//! cannot overlap. Each test here failed on the code before it.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use plexid_server::clock::Clock;
use plexid_server::config::Period;
use plexid_server::jobs::{self, Job, Lease};
use plexid_server::service::ServiceResult;
use plexid_server::state::AppState;
use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::both;
use crate::helpers::{postgres_url, Backend, TestApp};
use crate::limits::closed_within;
use crate::login::{FRIEND, MEMBER, OWNER, SERVER_ID};

/// Asks `check` every 50 ms until it holds or `within` has passed; how long it took.
async fn within<F: Future<Output = bool>>(within: Duration, mut check: impl FnMut() -> F) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < within {
        if check().await {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

async fn lease_holder(app: &TestApp, job: &str) -> Option<String> {
    let row = app
        .store
        .read()
        .fetch_optional("SELECT holder FROM job_lease WHERE name = $1", vec![job.into()])
        .await
        .unwrap();
    row.map(|r| r.text("holder").unwrap())
}

/// A sweep slower than its interval keeps its lease (another instance does not start a second
/// one beside it), and a run whose lease was taken over writes nothing more: the member who left
/// the server, checked after the takeover, is not revoked by the old run.
async fn slow_sweeps_do_not_overlap_and_stop_when_their_lease_is_lost(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| s.access_check_interval = Period::secs(1)).await;
    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    app.sign_in("plex", OWNER).await;
    app.sign_in("plex", FRIEND).await;
    let mut member = app.sign_in("plex", MEMBER).await;
    app.plex.unshare_server(SERVER_ID, MEMBER);
    let other = app.another_instance(None, Clock::system(), |s| s.access_check_interval = Period::secs(1)).await;
    // Each connection's servers take 1.5 s to come: the sweep of three takes 4.5 s.
    app.plex.set_path_latency("/api/v2/resources", Duration::from_millis(1500));
    let state = app.state.clone();
    let running = tokio::spawn(async move { jobs::run_due(&state, "instance-a").await });
    let holds = within(Duration::from_secs(5), || async {
        lease_holder(&app, "access_sweep").await.as_deref() == Some("instance-a")
    });
    assert!(holds.await.is_some(), "the sweep started");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let ran = jobs::run_due(&other.state, "instance-b").await;
    assert!(!ran.contains(&"access_sweep"), "a second sweep started beside the first: {ran:?}");
    app.sql("UPDATE job_lease SET holder = 'intruder' WHERE name = 'access_sweep'").await;
    let ran = running.await.unwrap();
    assert!(ran.contains(&"access_sweep"), "{ran:?}");
    assert!(app.events("action=logout").await.is_empty(), "the old run revoked someone after losing its lease");
    assert!(app.me(&mut member).await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_sweeps_do_not_overlap_sqlite() {
    slow_sweeps_do_not_overlap_and_stop_when_their_lease_is_lost(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_sweeps_do_not_overlap_postgres() {
    slow_sweeps_do_not_overlap_and_stop_when_their_lease_is_lost(Backend::Postgres).await;
}

/// Log lines written while a test runs (the subscriber is global: each test is its own
/// process under nextest).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn capture() -> Logs {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber per test process");
        logs
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

static FLAKY_RUNS: AtomicUsize = AtomicUsize::new(0);
static STEADY_RUNS: AtomicUsize = AtomicUsize::new(0);

fn flaky_runner(_: AppState, job: Job, _: Lease) -> Pin<Box<dyn Future<Output = ServiceResult<()>> + Send>> {
    Box::pin(async move {
        if job.name == "steady" {
            STEADY_RUNS.fetch_add(1, Ordering::SeqCst);
        } else if FLAKY_RUNS.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("the first run breaks");
        }
        Ok(())
    })
}

/// A job that panics is logged at error and runs again at its next interval; the other jobs
/// never stop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_job_is_logged_and_runs_again() {
    let logs = Logs::capture();
    let app = TestApp::spawn(Backend::Sqlite).await;
    let every = jiff::SignedDuration::from_millis(300);
    let schedule = vec![Job { name: "flaky", every }, Job { name: "steady", every }];
    let runner = jobs::spawn_with(app.state.clone(), schedule, flaky_runner, Duration::from_millis(100));
    let again = within(Duration::from_secs(10), || async {
        FLAKY_RUNS.load(Ordering::SeqCst) >= 3 && STEADY_RUNS.load(Ordering::SeqCst) >= 3
    });
    assert!(again.await.is_some(), "flaky {FLAKY_RUNS:?}, steady {STEADY_RUNS:?}");
    runner.abort();
    let text = logs.text();
    let line = text.lines().find(|l| l.contains("job panicked")).unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("ERROR") && line.contains("flaky") && line.contains("the first run breaks"), "{line}");
}

/// A TCP proxy in front of PostgreSQL that can go silent on the connections that sent `LISTEN`
/// (as a NAT or firewall that drops an idle connection does): bytes stop flowing both ways, the
/// sockets stay open.
struct SilencingProxy {
    address: String,
    silent: Arc<AtomicBool>,
}

impl SilencingProxy {
    async fn start(upstream: String) -> SilencingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let silent = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&silent);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&upstream).await else { continue };
                let listening = Arc::new(AtomicBool::new(false));
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                let pump =
                    |mut from: tokio::net::tcp::OwnedReadHalf, mut to: tokio::net::tcp::OwnedWriteHalf, marks: bool| {
                        let (silent, listening) = (Arc::clone(&flag), Arc::clone(&listening));
                        async move {
                            let mut buffer = vec![0u8; 16 * 1024];
                            loop {
                                let n = match from.read(&mut buffer).await {
                                    Ok(0) | Err(_) => return,
                                    Ok(n) => n,
                                };
                                if marks && buffer[..n].windows(6).any(|w| w == b"LISTEN") {
                                    listening.store(true, Ordering::SeqCst);
                                }
                                if silent.load(Ordering::SeqCst) && listening.load(Ordering::SeqCst) {
                                    continue;
                                }
                                if to.write_all(&buffer[..n]).await.is_err() {
                                    return;
                                }
                            }
                        }
                    };
                tokio::spawn(pump(client_read, server_write, true));
                tokio::spawn(pump(server_read, client_write, false));
            }
        });
        SilencingProxy { address, silent }
    }
}

/// An instance whose change listener goes silent turns its caches off within seconds: a token
/// revoked on another instance is refused there within the bound (it used to be admitted for
/// as long as the listener stayed silent), and caches come back once the listener hears again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_listener_turns_caches_off_within_seconds() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let server = url::Url::parse(&postgres_url()).unwrap();
    let upstream = format!("{}:{}", server.host_str().unwrap(), server.port().unwrap_or(5432));
    let proxy = SilencingProxy::start(upstream).await;
    let mut through_proxy = url::Url::parse(&app.state.settings.db.database).unwrap();
    let (host, port) = proxy.address.rsplit_once(':').unwrap();
    through_proxy.set_host(Some(host)).unwrap();
    through_proxy.set_port(Some(port.parse().unwrap())).unwrap();
    let through_proxy = through_proxy.to_string();
    let other = app.another_instance(Some(&through_proxy), Clock::system(), |_| {}).await;
    let key = app.user_with_permissions("viewer", &["authentik_sources_plex.view_plexsource"]).await;
    let status = |key: String| {
        let url = format!("{}/api/v3/sources/plex/", other.base);
        async move { reqwest::Client::new().get(url).bearer_auth(key).send().await.unwrap().status().as_u16() }
    };
    let caching = within(Duration::from_secs(5), || async { other.store.auth_generation().is_some() });
    assert!(caching.await.is_some(), "the listener proved itself");
    // Warm: the generation stands still over the warm requests (a late notification of the
    // set-up's own writes may still arrive and move it, and then nothing was cached).
    let warm = within(Duration::from_secs(5), || async {
        let before = other.store.auth_generation();
        for _ in 0..3 {
            assert_eq!(status(key.clone()).await, 200, "warm on the other instance");
        }
        before.is_some() && before == other.store.auth_generation()
    });
    assert!(warm.await.is_some(), "the other instance's caches warmed");
    proxy.silent.store(true, Ordering::SeqCst);
    let (_, tokens) = app.get("/api/v3/core/tokens/?user__username=viewer").await;
    let identifier = tokens["results"][0]["identifier"].as_str().unwrap().to_owned();
    assert_eq!(app.delete(&format!("/api/v3/core/tokens/{identifier}/")).await.0, 204);
    let bound = plexid_store::changes::FRESH_FOR + Duration::from_secs(1);
    let refused = within(Duration::from_secs(10), || async { status(key.clone()).await == 403 }).await;
    assert!(refused.is_some_and(|took| took <= bound), "refused after {refused:?} (bound {bound:?})");
    // (The refusal may come sooner than the caches turn off, when the other instance had to read
    // the token again anyway; the caches still turn off within the bound.)
    let off = within(bound, || async { other.store.auth_generation().is_none() }).await;
    assert!(off.is_some(), "caches are off while the listener is silent");
    proxy.silent.store(false, Ordering::SeqCst);
    let back = within(Duration::from_secs(20), || async { other.store.auth_generation().is_some() });
    assert!(back.await.is_some(), "caches come back once the listener hears itself again");
}

/// A session's last use that cannot be written (a read-only database, a disk full) is logged;
/// the request goes on.
async fn a_failed_session_touch_fails_no_request(app: &TestApp) {
    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    let mut member = app.sign_in("plex", MEMBER).await;
    match app.store.dialect() {
        plexid_store::Dialect::Sqlite => {
            app.sql("CREATE TRIGGER no_touch BEFORE UPDATE ON user_session BEGIN SELECT RAISE(ABORT, 'read-only'); END")
                .await
        }
        plexid_store::Dialect::Postgres => {
            app.sql(
                "CREATE FUNCTION refuse_write() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'read-only'; END $$",
            )
            .await;
            app.sql(
                "CREATE TRIGGER no_touch BEFORE UPDATE ON user_session FOR EACH ROW EXECUTE FUNCTION refuse_write()",
            )
            .await;
        }
    }
    app.state.clock.advance(Duration::from_secs(120));
    assert_eq!(app.me(&mut member).await.map(|u| u["username"].clone()), Some(json!("member")));
    let page = app.browser(&mut member, Method::GET, "/if/user/", None, false).await;
    assert_eq!(page.status, 200);
}
both!(a_failed_session_touch_fails_no_request, a_failed_session_touch_fails_no_request, manual_clock);

/// A session used on one instance is not timed out as idle on another that cached it earlier.
async fn a_session_used_elsewhere_is_not_idle_here(app: &TestApp) {
    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    let clock = app.state.clock.clone();
    let other = app.another_instance(None, clock.clone(), |s| s.session_idle = Period::minutes(30)).await;
    let mut member = app.sign_in("plex", MEMBER).await;
    assert!(other.me(&mut member).await.is_some(), "cached there");
    clock.advance(Duration::from_secs(20 * 60));
    assert!(app.me(&mut member).await.is_some(), "used here: its last use moves on");
    clock.advance(Duration::from_secs(20 * 60));
    assert!(other.me(&mut member).await.is_some(), "used 20 minutes ago, not 40");
}
both!(a_session_used_elsewhere_is_not_idle_here, a_session_used_elsewhere_is_not_idle_here, manual_clock);

/// Sends `head`, then a byte of body every 300 ms; what the server sent until it closed the
/// connection (`None`: still open after 6 s), and when it closed it.
async fn trickle(address: &str, head: &str) -> (Option<String>, Duration) {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let (mut reading, mut writing) = stream.into_split();
    let writer = tokio::spawn(async move {
        for _ in 0..99 {
            if writing.write_all(b" ").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });
    let answer = closed_within(&mut reading, Duration::from_secs(6)).await;
    writer.abort();
    (answer, started.elapsed())
}

/// A body trickled in one byte at a time is cut off at the body deadline (counted from the
/// headers, not from the last byte) with 408, and the connection is closed; a handler that never
/// reads the body answers and closes at once; a body sent in time is read as ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_body_is_cut_off_at_the_deadline() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.body_timeout = Period(jiff::SignedDuration::from_millis(1000));
    })
    .await;
    let address = app.base.trim_start_matches("http://").to_owned();
    let head = "POST /api/v3/sources/plex/redeem_token/?slug=plex HTTP/1.1\r\nHost: x\r\n\
                Content-Type: application/json\r\nContent-Length: 100\r\n\r\n";
    let (answer, took) = trickle(&address, head).await;
    let answer = answer.expect("the connection was held open past the deadline");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("The request body did not arrive in time."), "{answer}");
    assert!(took < Duration::from_millis(2500), "closed after {took:?}");
    let head = "GET /-/health/live/ HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n";
    let (answer, took) = trickle(&address, head).await;
    assert!(answer.is_some_and(|a| a.starts_with("HTTP/1.1 200")) && took < Duration::from_secs(1));
    // In time, the same request is read and answered as ever (404: no such source).
    let mut stream = TcpStream::connect(&address).await.unwrap();
    let body = "{\"plex_token\": \"x\"}";
    let request = format!(
        "POST /api/v3/sources/plex/redeem_token/?slug=plex HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let answer = closed_within(&mut stream, Duration::from_secs(5)).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
}

/// The addresses of one IPv6 /64 count as one client for the sign-in limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_clients_are_limited_by_their_64() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.login_rate_limit = 3;
        s.trust_proxy_headers = true;
    })
    .await;
    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    let body = json!({"plex_token": app.plex.token_of(crate::login::STRANGER).unwrap()});
    let attempt = |ip: &str| {
        let request = reqwest::Client::new()
            .post(format!("{}/api/v3/sources/plex/redeem_token/?slug=plex", app.base))
            .header("X-Forwarded-For", ip)
            .json(&body);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    for i in 1..=3 {
        assert_eq!(attempt(&format!("2001:db8:7:7::{i}")).await, 403, "refused as a stranger, not throttled");
    }
    assert_eq!(attempt("2001:db8:7:7:ffff:1:2:3").await, 429, "the same /64");
    assert_eq!(attempt("2001:db8:7:8::1").await, 403, "another /64");
}

/// Groups' members are joined to their groups by id, and left out with authentik's
/// `include_users=false` (`users` still lists them; `users_obj` is null).
async fn group_members_are_optional(app: &TestApp) {
    let mut ids = Vec::new();
    for name in ["ann", "bob", "cy"] {
        let (status, user) = app.post("/api/v3/core/users/", json!({"username": name, "name": name})).await;
        assert_eq!(status, 201, "{user}");
        ids.push(user["pk"].as_i64().unwrap());
    }
    let (_, all) = app.post("/api/v3/core/groups/", json!({"name": "all", "users": ids})).await;
    let (_, one) = app.post("/api/v3/core/groups/", json!({"name": "one", "users": [ids[1]]})).await;
    let (_, listed) = app.get("/api/v3/core/groups/?search=o&ordering=name").await;
    let names = |group: &serde_json::Value| -> Vec<String> {
        group["users_obj"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(listed["results"].as_array().unwrap().len(), 1);
    assert_eq!(names(&listed["results"][0]), ["bob"]);
    let (_, listed) = app.get("/api/v3/core/groups/?name=all").await;
    assert_eq!(names(&listed["results"][0]), ["ann", "bob", "cy"]);
    assert_eq!(listed["results"][0]["users"], json!(ids));
    let (_, light) = app.get("/api/v3/core/groups/?include_users=false&ordering=name").await;
    for group in light["results"].as_array().unwrap() {
        assert_eq!(group["users_obj"], serde_json::Value::Null, "{group}");
    }
    let all_light = light["results"].as_array().unwrap().iter().find(|g| g["name"] == "all").unwrap();
    assert_eq!(all_light["users"], json!(ids));
    let one_pk = one["pk"].as_str().unwrap();
    let (_, got) = app.get(&format!("/api/v3/core/groups/{one_pk}/?include_users=False")).await;
    assert_eq!((got["users"].clone(), got["users_obj"].clone()), (json!([ids[1]]), serde_json::Value::Null));
    let (_, got) = app.get(&format!("/api/v3/core/groups/{}/?include_users=true", all["pk"].as_str().unwrap())).await;
    assert_eq!(got["users_obj"].as_array().unwrap().len(), 3);
}
both!(group_members_are_optional, group_members_are_optional);

/// Search folds case the same way on both engines, for every letter (SQLite's own `lower()`
/// folds ASCII only).
async fn search_folds_case_alike_on_both_engines(app: &TestApp) {
    app.post("/api/v3/core/users/", json!({"username": "zola", "name": "ÉMILE Zola"})).await;
    app.post("/api/v3/core/users/", json!({"username": "other", "name": "Someone"})).await;
    for search in ["émile", "ÉMILE", "Émile", "zOLA"] {
        let (_, found) = app.get(&format!("/api/v3/core/users/?search={search}")).await;
        let names: Vec<&str> =
            found["results"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
        assert_eq!(names, ["zola"], "{search}");
    }
}
both!(search_folds_case_alike_on_both_engines, search_folds_case_alike_on_both_engines);

/// A group deleted after an application's access rule named it stays in the rule, where it
/// matches nobody (the rule does not widen), and no longer fails every later save of the
/// application; naming a group that does not exist is still refused.
async fn a_deleted_group_in_an_access_rule(app: &TestApp) {
    let (_, user) = app.post("/api/v3/core/users/", json!({"username": "ann", "name": "Ann"})).await;
    let ann = user["pk"].as_i64().unwrap();
    let (_, group) = app.post("/api/v3/core/groups/", json!({"name": "staff", "users": [ann]})).await;
    let provider = app.oauth2_provider("Rule", json!({})).await;
    app.application("rule", &provider["pk"], json!({"access_groups": [group["pk"]]})).await;
    let passing = || async {
        let (_, result) = app.get(&format!("/api/v3/core/applications/rule/check_access/?for_user={ann}")).await;
        result["passing"].as_bool().unwrap()
    };
    assert!(passing().await);
    assert_eq!(app.delete(&format!("/api/v3/core/groups/{}/", group["pk"].as_str().unwrap())).await.0, 204);
    let (status, body) = app.patch("/api/v3/core/applications/rule/", json!({"name": "Renamed"})).await;
    assert_eq!(status, 200, "{body}");
    assert!(!passing().await, "the rule still names the deleted group: nobody is in it");
    let unknown = uuid::Uuid::new_v4();
    let (status, body) =
        app.patch("/api/v3/core/applications/rule/", json!({"access_groups": [group["pk"], unknown]})).await;
    assert_eq!(
        (status.as_u16(), body),
        (400, json!({"access_groups": [format!("Invalid pk \"{unknown}\" - object does not exist.")]}))
    );
}
both!(a_deleted_group_in_an_access_rule, a_deleted_group_in_an_access_rule);

/// Saves read their references through their own transaction: twenty concurrent saves of one
/// application (more than PostgreSQL's pool of 16 connections) all succeed at once. Each used to
/// hold its transaction's connection, locked row and all, while waiting for a second one for
/// its checks, and they failed together after the pool's 10 s timeout.
async fn concurrent_saves_do_not_starve_the_pool(app: &TestApp) {
    let provider = app.oauth2_provider("Busy", json!({})).await;
    app.application("busy", &provider["pk"], json!({})).await;
    let started = Instant::now();
    let mut saves = tokio::task::JoinSet::new();
    for i in 0..20 {
        let url = format!("{}/api/v3/core/applications/busy/", app.base);
        let token = app.token.clone();
        saves.spawn(async move {
            let body = json!({"meta_description": format!("save {i}")});
            reqwest::Client::new().patch(url).bearer_auth(token).json(&body).send().await.unwrap().status().as_u16()
        });
    }
    let statuses = saves.join_all().await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert!(started.elapsed() < Duration::from_secs(8), "{:?}", started.elapsed());
}
both!(concurrent_saves_do_not_starve_the_pool, concurrent_saves_do_not_starve_the_pool);

/// Changing `PLEXID_BOOTSTRAP_TOKEN` after the bootstrap token was renamed replaces it (start-up
/// used to fail with "invalid input" on the token's `managed` value).
async fn a_renamed_bootstrap_token_is_replaced(app: &TestApp) {
    let path = "/api/v3/core/tokens/authentik-bootstrap-token/";
    let (status, body) = app.patch(path, json!({"identifier": "renamed-bootstrap"})).await;
    assert_eq!(status, 200, "{body}");
    let new_key = format!("new-bootstrap-{}", uuid::Uuid::new_v4().simple());
    let key = new_key.clone();
    let other = app.another_instance(None, Clock::system(), move |s| s.bootstrap_token = Some(key)).await;
    let tokens = |key: String| {
        let url = format!("{}/api/v3/core/tokens/?managed=goauthentik.io/core/bootstrap-token", other.base);
        async move {
            let response = reqwest::Client::new().get(url).bearer_auth(key).send().await.unwrap();
            (response.status().as_u16(), response.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (status, listed) = tokens(new_key).await;
    assert_eq!((status, listed["pagination"]["count"].clone()), (200, json!(1)), "{listed}");
    assert_eq!(tokens(app.token.clone()).await.0, 403, "the old key is gone");
}
both!(a_renamed_bootstrap_token_is_replaced, a_renamed_bootstrap_token_is_replaced);

/// A returning member's sign-in sends no notification (issue 23): PostgreSQL commits every
/// notifying transaction under one cluster-wide lock, and nothing such a sign-in writes (the
/// last login, the connection's token and time, a session, the event, unchanged memberships)
/// is something the auth caches read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returning_sign_in_notifies_nothing() {
    let app = TestApp::spawn(Backend::Postgres).await;
    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    let other = app.another_instance(None, Clock::system(), |_| {}).await;
    app.sign_in("plex", MEMBER).await;
    let proven = within(Duration::from_secs(5), || async { other.store.auth_generation().is_some() });
    assert!(proven.await.is_some());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = other.store.auth_generation();
    for _ in 0..3 {
        app.sign_in("plex", MEMBER).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(other.store.auth_generation(), before, "a returning sign-in changes no cache");
}

/// Every change that matters to what instances cache tells the others, a user's attributes
/// included (they give the UPN-mode `x-authentik-uid`; the triggers used to list columns by hand
/// and missed them); a user's last sign-in does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attribute_changes_reach_other_instances_caches() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let other = app.another_instance(None, Clock::system(), |_| {}).await;
    let (_, user) = app.post("/api/v3/core/users/", json!({"username": "ann", "name": "Ann"})).await;
    let pk = user["pk"].as_i64().unwrap();
    let proven = within(Duration::from_secs(5), || async { other.store.auth_generation().is_some() });
    assert!(proven.await.is_some());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = other.store.auth_generation();
    app.sql(&format!("UPDATE app_user SET last_login = 1 WHERE id = {pk}")).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(other.store.auth_generation(), before, "a sign-in's last_login changes no cache");
    let (status, _) = app.patch(&format!("/api/v3/core/users/{pk}/"), json!({"attributes": {"upn": "ann@x"}})).await;
    assert_eq!(status, 200);
    let moved = within(Duration::from_secs(3), || async { other.store.auth_generation() != before });
    assert!(moved.await.is_some(), "the other instance dropped what it cached");
}
