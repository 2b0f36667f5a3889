//! HTTP-level behaviour: errors for unknown routes and methods, bad JSON, health, schema.

use reqwest::Method;
use serde_json::json;

use crate::both;
use crate::helpers::TestApp;

async fn errors_are_json(app: &TestApp) {
    let (status, body) = app.send(Method::GET, "/api/v3/sources/plex", Some(&app.token), None).await;
    assert_eq!((status.as_u16(), body), (404, json!({"detail": "Not found."})), "trailing slash required");
    let (status, body) = app.send(Method::GET, "/api/v3/nope/", Some(&app.token), None).await;
    assert_eq!((status.as_u16(), body), (404, json!({"detail": "Not found."})));
    let (status, body) = app.send(Method::PUT, "/api/v3/sources/plex/", Some(&app.token), Some("{}")).await;
    assert_eq!((status.as_u16(), body), (405, json!({"detail": "Method \"PUT\" not allowed."})));
    let (status, body) = app.send(Method::POST, "/api/v3/sources/plex/x/used_by/", Some(&app.token), Some("{}")).await;
    assert_eq!((status.as_u16(), body), (405, json!({"detail": "Method \"POST\" not allowed."})));
    let (status, body) = app.send(Method::POST, "/api/v3/sources/plex/", Some(&app.token), Some("{bad json")).await;
    assert_eq!(status, 400);
    assert!(body["detail"].as_str().unwrap().starts_with("JSON parse error - "), "{body}");
    let (status, body) = app.send(Method::POST, "/api/v3/sources/plex/", Some(&app.token), Some("[1, 2]")).await;
    assert_eq!(
        (status.as_u16(), body),
        (400, json!({"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}))
    );
    let (status, _) = app.send(Method::GET, "/api/v3/sources/plex/a.b/", Some(&app.token), None).await;
    assert_eq!(status, 404);
    let (_, listed) = app.get("/api/v3/sources/plex/").await;
    assert_eq!(listed["pagination"]["count"], 0, "nothing was stored by the bad requests");
    // Extreme query strings are answered, never with a 500.
    let (status, body) = app.get("/api/v3/sources/plex/?page=18446744073709551615&page_size=1000").await;
    assert_eq!((status.as_u16(), body), (404, json!({"detail": "Invalid page."})));
    let many_terms = (0..5000).map(|i| format!("t{i}")).collect::<Vec<_>>().join(",");
    assert_eq!(app.get(&format!("/api/v3/sources/plex/?search={many_terms}")).await.0, 200);
    let (status, _) = app.get(&format!("/api/v3/users/?{}", "x=1&".repeat(2000))).await;
    assert_eq!(status, 404);
    // A fresh client: the server answers before reading the whole body and then closes the
    // connection, which a pooled connection would trip over on its next request.
    let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let response = reqwest::Client::new()
        .post(format!("{}/api/v3/sources/plex/", app.base))
        .bearer_auth(&app.token)
        .header("Content-Type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body, json!({"detail": "Request body is larger than 1048576 bytes."}));
    let (status, body) = app
        .post(
            "/api/v3/sources/user_connections/plex/",
            json!({"user": 1e30, "source": "s", "identifier": "i", "plex_token": "t"}),
        )
        .await;
    assert_eq!((status.as_u16(), body["user"].clone()), (400, json!(["A valid integer is required."])));
}
both!(errors_are_json, errors_are_json);

async fn health_and_schema(app: &TestApp) {
    assert_eq!(app.send(Method::GET, "/-/health/live/", None, None).await.0, 200);
    assert_eq!(app.send(Method::GET, "/-/health/ready/", None, None).await.0, 200);
    let (status, schema) = app.send(Method::GET, "/api/v3/schema/", None, None).await;
    assert_eq!(status, 200);
    assert!(schema["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/sources/plex/",
        "/sources/plex/{slug}/",
        "/sources/plex/{slug}/used_by/",
        "/flows/instances/",
        "/flows/instances/{slug}/",
        "/propertymappings/source/plex/",
        "/propertymappings/source/plex/{pm_uuid}/",
        "/propertymappings/source/plex/{pm_uuid}/used_by/",
        "/propertymappings/all/{pm_uuid}/test/",
    ] {
        assert!(schema["paths"][path].is_object(), "{path} documented");
    }
    assert!(schema["components"]["schemas"]["PlexSource"].is_object());
    assert!(!schema.to_string().contains("$serde_json::private::Number"));
    let yaml = reqwest::get(format!("{}/api/v3/schema/?format=yaml", app.base)).await.unwrap().text().await.unwrap();
    assert!(yaml.contains("openapi:"));
    assert!(!yaml.contains("$serde_json::private::Number"));
    // The YAML is the same document as the JSON.
    let parsed = crate::shape::json_of(&yaml_rust2::YamlLoader::load_from_str(&yaml).unwrap()[0]);
    let json: serde_json::Value =
        reqwest::get(format!("{}/api/v3/schema/", app.base)).await.unwrap().json().await.unwrap();
    assert_eq!(parsed, json);
}
both!(health_and_schema, health_and_schema);
