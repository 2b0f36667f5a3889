//! `/metrics`: off without `PLEXID_METRICS_TOKEN`, refused without the token, and after
//! sign-ins, refusals, a rate-limit hit, plex.tv calls, an access sweep that revokes someone,
//! forward-auth checks, token requests and mapping evaluations, a scrape that the Prometheus
//! project's own parser (`prometheus_client`, in the compat virtualenv) reads, holding each of
//! them under bounded labels.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use crate::compat::venv;
use crate::forward_auth::proxied;
use crate::helpers::{Backend, TestApp};
use crate::login::{Cookies, FRIEND, OWNER, STRANGER};

const TOKEN: &str = "metrics-token-for-tests";

/// One parsed sample.
struct Sample {
    name: String,
    labels: Value,
    value: f64,
}

async fn scrape(app: &TestApp, token: Option<&str>) -> (u16, String, String) {
    let mut request = reqwest::Client::new().get(format!("{}/metrics", app.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type =
        response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

/// The exposition as Prometheus' Python parser reads it.
async fn parsed(text: String) -> Vec<Sample> {
    let lines = tokio::task::spawn_blocking(move || {
        let (compat, python) = venv();
        let mut child = Command::new(python)
            .arg(compat.join("metrics_parse.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        let out = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "the parser refused the exposition: {}\n{text}",
            String::from_utf8_lossy(&output.stderr)
        );
        out
    })
    .await
    .unwrap();
    lines
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap();
            Sample {
                name: v["name"].as_str().unwrap().into(),
                labels: v["labels"].clone(),
                value: v["value"].as_f64().unwrap(),
            }
        })
        .collect()
}

/// The value of the sample `name` whose labels include `labels` (0 when there is none).
fn value(samples: &[Sample], name: &str, labels: Value) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| labels.as_object().unwrap().iter().all(|(k, v)| s.labels.get(k) == Some(v)))
        .map(|s| s.value)
        .sum()
}

async fn everything_is_counted(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.metrics_token = Some(TOKEN.into());
        s.login_rate_limit = 3;
    })
    .await;
    assert_eq!(scrape(&app, None).await.0, 401, "no token");
    assert_eq!(scrape(&app, Some("wrong")).await.0, 401, "a wrong token");

    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    app.sign_in("plex", FRIEND).await;
    let refused = app.redeem(&mut Cookies::default(), "plex", STRANGER).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    app.sign_in("plex", OWNER).await;
    let limited = app.redeem(&mut Cookies::default(), "plex", OWNER).await;
    assert_eq!(limited.status, 429, "{}", limited.body);

    app.forward_auth_app("wiki", json!({"external_host": "http://app.test"}), json!(["friend"])).await;
    let nobody = Cookies::default();
    let auth = "/outpost.goauthentik.io/auth/nginx";
    proxied(&app, "x", auth, &nobody, &[("X-Original-URL", "http://app.test/page")]).await;
    proxied(&app, "x", auth, &nobody, &[("X-Original-URL", "http://elsewhere.test/")]).await;
    let form = [("grant_type", "authorization_code"), ("code", "nothing")];
    let (status, _) = app.oauth_post("/application/o/token/", Some(("nobody", "nothing")), &form).await;
    assert_eq!(status, 401);

    let (_, mapping) = app
        .post("/api/v3/propertymappings/source/plex/", json!({"name": "failing", "expression": "return 1 // 0"}))
        .await;
    let test = format!("/api/v3/propertymappings/all/{}/test/", mapping["pk"].as_str().unwrap());
    app.post(&test, json!({"context": {}})).await;

    app.plex.remove_friend(OWNER, FRIEND);
    app.plex.remove_friend(FRIEND, OWNER);
    let ran = plexid_server::jobs::run_due(&app.state, "metrics-test").await;
    assert!(ran.contains(&"access_sweep"), "{ran:?}");

    let (status, content_type, text) = scrape(&app, Some(TOKEN)).await;
    assert_eq!((status, content_type.as_str()), (200, "text/plain; version=0.0.4; charset=utf-8"), "{text}");
    for secret in [app.token.as_str(), TOKEN, &app.plex.token_of(OWNER).unwrap()] {
        assert!(!text.contains(secret), "a secret in the metrics");
    }
    let samples = parsed(text.clone()).await;
    let expect = |name: &str, labels: Value, wanted: f64| {
        assert_eq!(value(&samples, name, labels.clone()), wanted, "{name} {labels}\n{text}");
    };
    let at_least = |name: &str, labels: Value| {
        assert!(value(&samples, name, labels.clone()) >= 1.0, "{name} {labels}\n{text}");
    };
    expect("plexid_sign_ins_total", json!({"source": "plex", "outcome": "signed_in"}), 2.0);
    expect("plexid_sign_in_refusals_total", json!({"source": "plex", "reason": "not_allowed"}), 1.0);
    expect("plexid_limit_hits_total", json!({"limit": "sign_in"}), 1.0);
    at_least("plexid_plex_request_duration_seconds_count", json!({"endpoint": "/api/v2/user", "outcome": "ok"}));
    at_least("plexid_plex_request_duration_seconds_count", json!({"endpoint": "/api/v2/resources", "outcome": "ok"}));
    expect("plexid_job_runs_total", json!({"job": "access_sweep", "outcome": "ok"}), 1.0);
    expect("plexid_access_revocations_total", json!({"source": "plex"}), 1.0);
    expect("plexid_forward_auth_checks_total", json!({"application": "wiki", "outcome": "no_session"}), 1.0);
    expect("plexid_forward_auth_checks_total", json!({"application": "", "outcome": "no_application"}), 1.0);
    expect(
        "plexid_oidc_token_requests_total",
        json!({"grant_type": "authorization_code", "outcome": "invalid_client"}),
        1.0,
    );
    expect("plexid_mapping_evaluations_total", json!({"outcome": "runtime"}), 1.0);
    // Routes are templates, never raw paths.
    expect(
        "plexid_http_requests_total",
        json!({"method": "POST", "route": "/api/v3/sources/plex/", "status": "201"}),
        1.0,
    );
    at_least("plexid_http_requests_total", json!({"route": "/api/v3/propertymappings/all/{pm_uuid}/test/"}));
    at_least("plexid_http_request_duration_seconds_count", json!({"method": "POST", "route": "/application/o/token/"}));
    assert!(!text.contains(mapping["pk"].as_str().unwrap()), "a raw path in the labels");

    // The Grafana dashboard in deploy/ asks only for series plexid serves.
    let dashboard = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/grafana-dashboard.json"),
    )
    .unwrap();
    let used: std::collections::BTreeSet<&str> = dashboard
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("plexid_"))
        .collect();
    assert!(used.len() >= 10, "{used:?}");
    for name in used {
        assert!(samples.iter().any(|s| s.name == name), "the dashboard uses {name}, which /metrics does not serve");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_is_counted_sqlite() {
    everything_is_counted(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_is_counted_postgres() {
    everything_is_counted(Backend::Postgres).await;
}

/// Without `PLEXID_METRICS_TOKEN` there is no `/metrics` at all, token or not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_without_a_token() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    assert_eq!(scrape(&app, None).await.0, 404);
    assert_eq!(scrape(&app, Some("")).await.0, 404);
    assert_eq!(scrape(&app, Some(&app.token)).await.0, 404);
}
