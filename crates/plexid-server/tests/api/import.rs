//! `plexid import-authentik`, against recorded authentik 2024.6 answers (the vendored samples,
//! completed with objects in authentik's shapes) served by a small stand-in, and against plexid
//! itself (it speaks the same API): a dry run writes nothing, a run brings sources (with the Plex
//! token authentik shows), mappings, users, groups, connections, providers (client ids and
//! secrets kept) and applications (group bindings as access rules) across, a second run changes
//! nothing, and what cannot come across is named with the reason.

use std::collections::HashMap;
use std::process::Command;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::both;
use crate::deploy::PLEXID;
use crate::helpers::{sample, Backend, TestApp};
use crate::login::{FRIEND, MEMBER};

const AUTHENTIK_TOKEN: &str = "authentik-superuser-token";
const FLOW: &str = "331b29ea-7ed7-40a0-9f8c-70fce3a2c3d1";
const ENROLL_FLOW: &str = "6f1d0f1e-5d1a-4c55-9b61-111111111111";
const GROUP: &str = "4429a6d5-3e62-4588-8456-b04a1fae3186";
const PARENT_GROUP: &str = "9b7c2d1e-0000-4000-8000-000000000001";
const MAPPING: &str = "2b0c5d8e-0000-4000-8000-00000000000a";
const PYTHON_MAPPING: &str = "2b0c5d8e-0000-4000-8000-00000000000b";

fn page(results: Vec<Value>) -> Value {
    let n = results.len();
    json!({"pagination": {"next": 0, "previous": 0, "count": n, "current": 1, "total_pages": 1,
           "start_index": 1, "end_index": n}, "results": results})
}

/// What the stand-in answers, by path (queries ignored but `target=` of policy bindings).
fn recorded_authentik() -> HashMap<String, Value> {
    let mut source = sample("04-plex-list")["results"][0].clone();
    source["enrollment_flow"] = json!(ENROLL_FLOW);
    source["user_property_mappings"] = json!([MAPPING, PYTHON_MAPPING]);
    let oauth2 = sample("27-oauth2-provider-create-201");
    let proxy = sample("29-proxy-provider-create-201");
    let mut proxy_mode = proxy.clone();
    proxy_mode["pk"] = json!(9);
    proxy_mode["name"] = json!("Real proxy");
    proxy_mode["client_id"] = json!("proxy-mode-client");
    proxy_mode["mode"] = json!("proxy");
    let oidc_app = sample("32-application-retrieve");
    let mut wiki = oidc_app.clone();
    wiki["pk"] = json!("c0ffee00-0000-4000-8000-000000000002");
    wiki["slug"] = json!("wiki");
    wiki["name"] = json!("Wiki");
    wiki["provider"] = json!(8);
    wiki["provider_obj"] = json!({"pk": 8, "verbose_name": "Proxy Provider"});
    let mut scripted = oidc_app.clone();
    scripted["pk"] = json!("c0ffee00-0000-4000-8000-000000000003");
    scripted["slug"] = json!("scripted");
    scripted["name"] = json!("Scripted");
    scripted["provider"] = Value::Null;
    let mut ldap = oidc_app.clone();
    ldap["pk"] = json!("c0ffee00-0000-4000-8000-000000000004");
    ldap["slug"] = json!("ldap-app");
    ldap["provider"] = json!(42);
    ldap["provider_obj"] = json!({"pk": 42, "verbose_name": "LDAP Provider"});
    let flow = |pk: &str, slug: &str, designation: &str| {
        json!({"pk": pk, "slug": slug, "name": slug, "title": "Welcome", "designation": designation,
               "authentication": "none", "policy_engine_mode": "any"})
    };
    let user = json!({"pk": 6, "username": "plexuser", "name": "Plex User", "is_active": true,
        "email": "plexuser@example.com", "attributes": {"plex": true}, "path": "goauthentik.io/sources/plex-test",
        "type": "external", "uuid": "5d2f1a3b-0000-4000-8000-000000000006", "groups": [GROUP], "is_superuser": false});
    let binding = |group: Option<&str>, policy: Option<&str>| {
        json!({"pk": "b1", "group": group, "user": null, "policy": policy.map(|_| "p1"),
               "policy_obj": policy.map(|name| json!({"name": name})), "enabled": true, "negate": false, "order": 0})
    };
    let mut answers = HashMap::new();
    answers.insert(
        "/flows/instances/".into(),
        page(vec![
            flow(FLOW, "default-provider-authorization-implicit-consent", "authorization"),
            flow(ENROLL_FLOW, "plex-enrollment", "enrollment"),
        ]),
    );
    answers.insert(
        "/propertymappings/source/plex/".into(),
        page(vec![
            json!({"pk": MAPPING, "name": "Plex title as name", "managed": null,
               "expression": "return {\"name\": info.get(\"title\")}"}),
            json!({"pk": PYTHON_MAPPING, "name": "Python only", "managed": null,
               "expression": "import re\nreturn {\"name\": re.sub(\"x\", \"y\", info[\"title\"])}"}),
        ]),
    );
    answers.insert("/sources/plex/".into(), page(vec![source]));
    answers.insert("/sources/user_connections/plex/".into(), sample("17-user-connections-plex-list-one"));
    answers.insert("/sources/group_connections/plex/".into(), sample("14-group-connections-plex-list-one"));
    answers.insert("/core/users/6/".into(), user);
    answers.insert("/core/groups/".into(), page(vec![
        json!({"pk": GROUP, "name": "Plex friends", "is_superuser": false, "parent": PARENT_GROUP, "attributes": {"from": "plex"}}),
        json!({"pk": PARENT_GROUP, "name": "Media", "is_superuser": false, "parent": null, "attributes": {}}),
        json!({"pk": "9b7c2d1e-0000-4000-8000-0000000000ff", "name": "Unrelated", "is_superuser": false, "parent": null, "attributes": {}}),
    ]));
    answers.insert("/providers/oauth2/".into(), page(vec![oauth2]));
    answers.insert("/providers/proxy/".into(), page(vec![proxy, proxy_mode]));
    answers.insert("/core/applications/".into(), page(vec![oidc_app.clone(), wiki, scripted, ldap]));
    answers.insert(format!("/policies/bindings/?target={}", oidc_app["pk"].as_str().unwrap()), page(vec![]));
    answers.insert(
        "/policies/bindings/?target=c0ffee00-0000-4000-8000-000000000002".into(),
        page(vec![binding(Some(GROUP), None)]),
    );
    answers.insert(
        "/policies/bindings/?target=c0ffee00-0000-4000-8000-000000000003".into(),
        page(vec![binding(None, Some("Only on Tuesdays"))]),
    );
    answers.insert("/policies/bindings/?target=c0ffee00-0000-4000-8000-000000000004".into(), page(vec![]));
    answers
}

async fn stand_in(State(answers): State<Arc<HashMap<String, Value>>>, request: Request) -> Response {
    let authorized = request.headers().get("authorization").and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {AUTHENTIK_TOKEN}"));
    if !authorized {
        return (StatusCode::FORBIDDEN, axum::Json(json!({"detail": "Token invalid/expired"}))).into_response();
    }
    let path = request.uri().path().strip_prefix("/api/v3").unwrap_or_default().to_owned();
    let target =
        request.uri().query().unwrap_or_default().split('&').find(|p| p.starts_with("target=")).map(str::to_owned);
    let key = match target {
        Some(target) => format!("{path}?{target}"),
        None => path,
    };
    match answers.get(&key) {
        Some(answer) => axum::Json(answer.clone()).into_response(),
        None => (StatusCode::NOT_FOUND, axum::Json(json!({"detail": "Not found."}))).into_response(),
    }
}

/// The stand-in authentik; returns its base URL.
async fn start_stand_in() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(stand_in).with_state(Arc::new(recorded_authentik()));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}")
}

/// Runs `plexid import-authentik` into `app`'s database.
async fn import(app: &TestApp, url: &str, token: &str, dry_run: bool) -> (bool, String) {
    let mut args = vec!["import-authentik".to_owned(), "--database".into(), app.state.settings.db.database.clone()];
    args.extend(["--url".to_owned(), url.to_owned()]);
    if dry_run {
        args.push("--dry-run".into());
    }
    let token = token.to_owned();
    tokio::task::spawn_blocking(move || {
        let output = Command::new(PLEXID)
            .args(&args)
            .env("AUTHENTIK_TOKEN", token)
            .env_remove("PLEXID_SECRET_KEY")
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        (output.status.success(), text)
    })
    .await
    .unwrap()
}

fn line<'a>(text: &'a str, kind: &str, name: &str) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(kind) && l.contains(name))
        .unwrap_or_else(|| panic!("no {kind} {name}:\n{text}"))
}

async fn from_recorded_authentik(app: &TestApp) {
    let url = start_stand_in().await;
    let (ok, text) = import(app, &url, "wrong-token", false).await;
    assert!(!ok && text.contains("the token was refused") && text.contains("nothing was written"), "{text}");

    let (ok, text) = import(app, &url, AUTHENTIK_TOKEN, true).await;
    assert!(ok, "{text}");
    assert!(line(&text, "source", "plex-test").ends_with("would create"), "{text}");
    assert!(text.contains("Dry run: nothing was written."), "{text}");
    assert_eq!(app.count("/api/v3/sources/plex/").await, 0, "the dry run wrote nothing");

    let (ok, text) = import(app, &url, AUTHENTIK_TOKEN, false).await;
    assert!(ok, "{text}");
    for (kind, name) in [
        ("source", "plex-test"),
        ("mapping", "Plex title as name"),
        ("flow", "plex-enrollment"),
        ("group", "Plex friends"),
        ("group", "Media"),
        ("user", "plexuser"),
        ("connection", "plex-test/plex-user-ident-1"),
        ("group link", "plex-test/plex-group-ident-1"),
        ("oauth2", "Sample OIDC s6529"),
        ("proxy", "Sample FA s6529"),
        ("application", "sample-s6529"),
        ("application", "wiki"),
    ] {
        assert!(line(&text, kind, name).ends_with("created"), "{kind} {name}:\n{text}");
    }
    assert!(
        line(&text, "flow", "default-provider-authorization").ends_with("unchanged"),
        "plexid's own flow is used: {text}"
    );
    for left_out in [
        "property mapping \"Python only\"",
        "application \"scripted\": it is bound to \"Only on Tuesdays\"",
        "application \"ldap-app\": its provider (LDAP Provider)",
        "proxy provider \"Real proxy\"",
        "users' own Plex tokens",
        "passwords",
    ] {
        assert!(text.contains(left_out), "{left_out}:\n{text}");
    }
    assert!(!text.contains("Unrelated"), "groups with nothing Plex about them stay behind: {text}");

    let (_, source) = app.get("/api/v3/sources/plex/plex-test/").await;
    assert_eq!(
        (source["client_id"].clone(), source["allowed_servers"].clone()),
        (json!("test-client-id"), json!(["server-a", "server-b"]))
    );
    assert_eq!(source["user_property_mappings"].as_array().unwrap().len(), 1, "{source}");
    let stored = app.store.read().source_by_slug("plex-test").await.unwrap().unwrap();
    assert_eq!(
        app.secrets.decrypt(&stored.plex_token).unwrap(),
        "test-plex-token",
        "the Plex token came over, encrypted"
    );
    let (_, users) = app.get("/api/v3/core/users/?username=plexuser").await;
    let user = &users["results"][0];
    assert_eq!(
        (user["email"].clone(), user["groups_obj"][0]["name"].clone()),
        (json!("plexuser@example.com"), json!("Plex friends")),
        "{user}"
    );
    let (_, connections) = app.get("/api/v3/sources/user_connections/plex/").await;
    assert_eq!(connections["results"][0]["identifier"], "plex-user-ident-1", "{connections}");

    // The OAuth2 client keeps its id and secret: the token endpoint authenticates it (and only
    // then refuses the made-up code).
    let oauth2 = sample("27-oauth2-provider-create-201");
    let (id, secret) = (oauth2["client_id"].as_str().unwrap(), oauth2["client_secret"].as_str().unwrap());
    let form = [
        ("grant_type", "authorization_code"),
        ("code", "made-up"),
        ("redirect_uri", "https://app.example.com/oauth/callback"),
    ];
    let (_, answer) = app.oauth_post("/application/o/token/", Some((id, secret)), &form).await;
    assert_eq!(answer["error"], "invalid_grant", "{answer}");
    let (_, answer) = app.oauth_post("/application/o/token/", Some((id, "not-the-secret")), &form).await;
    assert_eq!(answer["error"], "invalid_client", "{answer}");
    let (_, wiki) = app.get("/api/v3/core/applications/wiki/").await;
    let (_, group) = app.get("/api/v3/core/groups/?name=Plex%20friends").await;
    assert_eq!(
        wiki["access_groups"],
        json!([group["results"][0]["pk"]]),
        "the group binding became the access rule: {wiki}"
    );
    assert_eq!(app.get("/api/v3/core/applications/scripted/").await.0, 404);

    let (ok, text) = import(app, &url, AUTHENTIK_TOKEN, false).await;
    assert!(ok && text.contains("\n0 changed,"), "a second run changes nothing:\n{text}");
}
both!(from_recorded_authentik, from_recorded_authentik);

/// plexid as the source: what its API shows comes over; what it masks (the source's Plex token,
/// client secrets) is named as left behind.
async fn from_plexid(app: &TestApp) {
    let source = TestApp::spawn(Backend::Sqlite).await;
    source.plex_accounts();
    let (_, mapping) = source
        .post(
            "/api/v3/propertymappings/source/plex/",
            json!({"name": "movie night", "expression": "return {\"groups\": [\"movie-night\"]}"}),
        )
        .await;
    source.plex_source("plex", json!({"user_property_mappings": [mapping["pk"]]})).await;
    source.sign_in("plex", FRIEND).await;
    source.sign_in("plex", MEMBER).await;
    let rp = source.relying_party("grafana", json!({})).await;
    source.forward_auth_app("wiki", json!({"external_host": "http://wiki.test"}), json!(["friend"])).await;

    let (ok, text) = import(app, &source.base, &source.token, true).await;
    assert!(ok, "{text}");
    assert_eq!(app.count("/api/v3/core/applications/").await, 0, "the dry run wrote nothing");
    let (ok, text) = import(app, &source.base, &source.token, false).await;
    assert!(ok, "{text}");
    for (kind, name) in [
        ("source", "plex"),
        ("user", "friend"),
        ("user", "member"),
        ("group", "movie-night"),
        ("group link", "plex/movie-night"),
        ("application", "grafana"),
        ("application", "wiki"),
    ] {
        assert!(line(&text, kind, name).ends_with("created"), "{kind} {name}:\n{text}");
    }
    assert!(text.contains("source \"plex\"'s Plex token") && text.contains("client secret"), "{text}");
    let (_, wiki) = app.get("/api/v3/core/applications/wiki/").await;
    assert_eq!(wiki["access_relationships"], json!(["friend"]), "{wiki}");
    let (_, provider) = app.get(&format!("/api/v3/providers/oauth2/?client_id={}", rp.client_id)).await;
    assert_eq!(provider["pagination"]["count"], 1, "the client id is kept: {provider}");
    let (_, friends) = app.get("/api/v3/core/groups/?name=movie-night").await;
    assert_eq!(friends["results"][0]["users_obj"].as_array().map(Vec::len), Some(2), "{friends}");

    let (ok, text) = import(app, &source.base, &source.token, false).await;
    assert!(ok && text.contains("\n0 changed,"), "a second run changes nothing:\n{text}");
}
both!(from_plexid, from_plexid);
