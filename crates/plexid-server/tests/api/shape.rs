//! Tests that guard the shape of the project: no lost updates under concurrency, the OpenAPI
//! document still holds every authentik operation and schema plexid implements, and the rules
//! that keep the project self-contained and its time testable.

use std::collections::BTreeSet;
use std::path::Path;

use reqwest::Method;
use serde_json::{json, Value};

use crate::both;
use crate::helpers::{fixtures, TestApp};

/// Two concurrent PATCHes of one user, one changing `name`, the other `email`: both changes
/// survive, every time.
async fn concurrent_patches_lose_nothing(app: &TestApp) {
    let (status, user) = app.post("/api/v3/core/users/", json!({"username": "racer", "name": "r"})).await;
    assert_eq!(status, 201, "{user}");
    let path = format!("/api/v3/core/users/{}/", user["pk"]);
    let mut lost = 0;
    for i in 0..200 {
        let name = json!({"name": format!("name-{i}")}).to_string();
        let email = json!({"email": format!("r{i}@example.com")}).to_string();
        let (a, b) = tokio::join!(
            app.send(Method::PATCH, &path, Some(&app.token), Some(&name)),
            app.send(Method::PATCH, &path, Some(&app.token), Some(&email)),
        );
        assert_eq!((a.0.as_u16(), b.0.as_u16()), (200, 200));
        let (_, now) = app.get(&path).await;
        if now["name"] != json!(format!("name-{i}")) || now["email"] != json!(format!("r{i}@example.com")) {
            lost += 1;
        }
    }
    assert_eq!(lost, 0, "{lost} of 200 pairs lost a change");
}
both!(concurrent_patches_lose_nothing, concurrent_patches_lose_nothing);

/// authentik operations of the reference subset that plexid does not serve yet. When one is
/// built, it leaves this list (the test fails until it does).
const NOT_YET: &[(&str, &str)] =
    &[("post", "/sources/all/{slug}/set_icon/"), ("post", "/sources/all/{slug}/set_icon_url/")];

/// Schemas of the reference subset that belong to operations plexid does not serve yet.
const SCHEMAS_NOT_YET: &[&str] = &[
    "FilePathRequest",
    "FileUploadRequest",
    "PlexAuthenticationChallenge",
    "PlexAuthenticationChallengeResponseRequest",
];

const METHODS: &[&str] = &["get", "post", "put", "patch", "delete"];

fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            if item.get(*method).is_some() {
                out.insert((method.to_string(), path.clone()));
            }
        }
    }
    out
}

async fn openapi_keeps_the_reference_operations(app: &TestApp) {
    let text = std::fs::read_to_string(fixtures().join("authentik-2024.6-plex-openapi.yaml")).unwrap();
    let reference = json_of(&yaml_rust2::YamlLoader::load_from_str(&text).unwrap()[0]);
    let (status, served) = app.send(Method::GET, "/api/v3/schema/", None, None).await;
    assert_eq!(status, 200);
    let served_ops = operations(&served);
    let not_yet: BTreeSet<(String, String)> = NOT_YET.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    for op in operations(&reference) {
        if not_yet.contains(&op) {
            assert!(!served_ops.contains(&op), "{op:?} is served now: take it off NOT_YET");
        } else {
            assert!(served_ops.contains(&op), "authentik operation {op:?} is missing from /api/v3/schema/");
        }
    }
    let served_schemas = served["components"]["schemas"].as_object().expect("schemas");
    let missing: Vec<&String> = reference["components"]["schemas"]
        .as_object()
        .expect("schemas")
        .keys()
        .filter(|name| !SCHEMAS_NOT_YET.contains(&name.as_str()) && !served_schemas.contains_key(*name))
        .collect();
    assert!(missing.is_empty(), "authentik schemas missing from /api/v3/schema/: {missing:?}");
}
both!(openapi_keeps_the_reference_operations, openapi_keeps_the_reference_operations);

/// Operations of authentik's applications/providers/events subset that plexid does not serve:
/// the audit log is read-only, and icons, metrics and the user preview have no counterpart.
const APPS_NOT_SERVED: &[(&str, &str)] = &[
    ("POST", "/events/events/"),
    ("PUT", "/events/events/{event_uuid}/"),
    ("PATCH", "/events/events/{event_uuid}/"),
    ("DELETE", "/events/events/{event_uuid}/"),
    ("GET", "/events/events/actions/"),
    ("GET", "/events/events/per_month/"),
    ("GET", "/events/events/top_per_user/"),
    ("GET", "/events/events/volume/"),
    ("GET", "/core/applications/{slug}/metrics/"),
    ("POST", "/core/applications/{slug}/set_icon/"),
    ("POST", "/core/applications/{slug}/set_icon_url/"),
    ("GET", "/providers/oauth2/{id}/preview_user/"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_serves_the_applications_reference() {
    let app = TestApp::spawn(crate::helpers::Backend::Sqlite).await;
    let text = std::fs::read_to_string(fixtures().join("authentik-2024.6-apps-openapi.yaml")).unwrap();
    let reference = json_of(&yaml_rust2::YamlLoader::load_from_str(&text).unwrap()[0]);
    let (_, served) = app.send(Method::GET, "/api/v3/schema/", None, None).await;
    let served_ops = operations(&served);
    for op in operations(&reference) {
        let skipped = APPS_NOT_SERVED.iter().any(|(m, p)| op.0.eq_ignore_ascii_case(m) && op.1 == *p);
        assert_eq!(served_ops.contains(&op), !skipped, "{op:?}");
    }
    let schemas = served["components"]["schemas"].as_object().expect("schemas");
    for name in [
        "Application",
        "ApplicationRequest",
        "PaginatedApplicationList",
        "PolicyTestResult",
        "OAuth2Provider",
        "OAuth2ProviderRequest",
        "OAuth2ProviderSetupURLs",
        "PaginatedOAuth2ProviderList",
        "ProxyProvider",
        "ProxyProviderRequest",
        "PaginatedProxyProviderList",
        "Provider",
        "ClientTypeEnum",
        "SubModeEnum",
        "IssuerModeEnum",
        "ProxyMode",
        "UsedBy",
    ] {
        assert!(schemas.contains_key(name), "{name} is missing from /api/v3/schema/");
    }
}

/// Every source file under `dirs` (relative to the repository root), with its text.
fn sources(dirs: &[&str], extensions: &[&str]) -> Vec<(String, String)> {
    fn walk(dir: &Path, extensions: &[&str], out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                if !path.ends_with("fixtures") && !path.ends_with("target") {
                    walk(&path, extensions, out);
                }
            } else if path.extension().is_some_and(|e| extensions.iter().any(|x| e == *x)) {
                out.push((path.display().to_string(), std::fs::read_to_string(&path).unwrap_or_default()));
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut out = Vec::new();
    for dir in dirs {
        walk(&root.join(dir), extensions, &mut out);
    }
    out
}

#[test]
fn nothing_reads_beside_the_repository() {
    let files = sources(&["crates", "compat", "scripts", "bench", ".ci"], &["rs", "py", "sh", "toml", "lua"]);
    assert!(files.len() > 20);
    let marker = ["..", "shared"].join("/");
    for (path, text) in files {
        assert!(!text.contains(&marker), "{path} reads outside the repository ({marker})");
    }
}

#[test]
fn the_clock_is_read_in_one_place() {
    let files = sources(&["crates"], &["rs"]);
    let forbidden = [["SystemTime", "::now"].concat(), ["Timestamp", "::now"].concat()];
    for (path, text) in files {
        // plexid's one clock, and fake-plex (plex.tv's clock, not plexid's).
        if path.ends_with("plexid-server/src/clock.rs") || path.contains("crates/fake-plex/") {
            continue;
        }
        for call in &forbidden {
            assert!(!text.contains(call.as_str()), "{path} reads the system clock ({call}); use the Clock");
        }
    }
}

/// A YAML document as JSON (the reference schema is YAML).
pub fn json_of(yaml: &yaml_rust2::Yaml) -> Value {
    use yaml_rust2::Yaml as Y;
    match yaml {
        Y::Null | Y::BadValue | Y::Alias(_) => Value::Null,
        Y::Boolean(b) => Value::Bool(*b),
        Y::Integer(i) => Value::from(*i),
        Y::Real(text) => text.parse::<f64>().map(Value::from).unwrap_or(Value::String(text.clone())),
        Y::String(s) => Value::String(s.clone()),
        Y::Array(items) => Value::Array(items.iter().map(json_of).collect()),
        Y::Hash(map) => Value::Object(
            map.iter().map(|(k, v)| (k.as_str().map_or_else(|| format!("{k:?}"), str::to_owned), json_of(v))).collect(),
        ),
    }
}
