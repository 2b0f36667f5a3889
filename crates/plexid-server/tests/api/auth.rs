//! Authentication and RBAC: authentik's 403 bodies, plexid's D7 (authentication everywhere).

use reqwest::Method;
use serde_json::json;

use crate::both;
use crate::helpers::TestApp;

const NOT_AUTHENTICATED: &str = "Authentication credentials were not provided.";
const NO_PERMISSION: &str = "You do not have permission to perform this action.";

async fn anonymous_and_bad_tokens(app: &TestApp) {
    app.create_source("plex").await;
    let not_authenticated = json!({"detail": NOT_AUTHENTICATED});
    for (method, path) in [
        (Method::GET, "/api/v3/sources/plex/"),
        (Method::POST, "/api/v3/sources/plex/"),
        (Method::GET, "/api/v3/sources/plex/plex/"),
        (Method::GET, "/api/v3/sources/plex/plex/used_by/"),
        (Method::GET, "/api/v3/sources/plex/missing/used_by/"),
        (Method::DELETE, "/api/v3/sources/plex/plex/"),
        (Method::GET, "/api/v3/flows/instances/"),
        (Method::GET, "/api/v3/propertymappings/source/plex/"),
    ] {
        let (status, body) = app.send(method.clone(), path, None, Some("{}")).await;
        assert_eq!((status.as_u16(), &body), (403, &not_authenticated), "{method} {path}");
    }
    let (status, body) = app.send(Method::GET, "/api/v3/sources/plex/", Some("not-a-valid-token"), None).await;
    assert_eq!((status.as_u16(), body), (403, crate::helpers::sample("10-plex-list-invalid-token-403")));
    let response = reqwest::Client::new()
        .get(format!("{}/api/v3/sources/plex/", app.base))
        .header("Authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap(),
        json!({"detail": "Unsupported authentication type"})
    );
    // A lone "Bearer" is no credentials at all.
    let response = reqwest::Client::new()
        .get(format!("{}/api/v3/sources/plex/", app.base))
        .header("Authorization", "Bearer")
        .send()
        .await
        .unwrap();
    assert_eq!(response.json::<serde_json::Value>().await.unwrap(), not_authenticated);
    // The samples for missing credentials.
    let (status, body) = app.send(Method::GET, "/api/v3/sources/plex/", None, None).await;
    assert_eq!((status.as_u16(), body), (403, crate::helpers::sample("08-plex-list-no-token-403")));
    let (status, body) = app.send(Method::GET, "/api/v3/sources/group_connections/plex/", None, None).await;
    assert_eq!((status.as_u16(), body), (403, crate::helpers::sample("12-group-connections-plex-no-token-403")));
    let create = r#"{"name":"Plex NoAuth","slug":"plex-noauth","client_id":"x","plex_token":"y"}"#;
    let (status, body) = app.send(Method::POST, "/api/v3/sources/plex/", None, Some(create)).await;
    assert_eq!((status.as_u16(), body), (403, crate::helpers::sample("09-plex-create-no-token-403")));
}
both!(anonymous_and_bad_tokens, anonymous_and_bad_tokens);

async fn permissions_decide(app: &TestApp) {
    app.create_source("plex").await;
    let no_permission = json!({"detail": NO_PERMISSION});
    let nobody = app.user_with_permissions("nobody", &[]).await;
    for (method, path) in [
        (Method::GET, "/api/v3/sources/plex/"),
        (Method::POST, "/api/v3/sources/plex/"),
        (Method::GET, "/api/v3/sources/plex/plex/"),
        (Method::GET, "/api/v3/sources/plex/missing/"),
        (Method::PATCH, "/api/v3/sources/plex/plex/"),
    ] {
        let (status, body) = app.send(method.clone(), path, Some(&nobody), Some("{}")).await;
        assert_eq!((status.as_u16(), &body), (403, &no_permission), "{method} {path}");
    }
    let viewer = app.user_with_permissions("viewer", &["authentik_sources_plex.view_plexsource"]).await;
    let (status, listed) = app.send(Method::GET, "/api/v3/sources/plex/", Some(&viewer), None).await;
    assert_eq!((status.as_u16(), listed["pagination"]["count"].clone()), (200, json!(1)));
    assert_eq!(app.send(Method::GET, "/api/v3/sources/plex/missing/", Some(&viewer), None).await.0, 404);
    let (status, body) =
        app.send(Method::PATCH, "/api/v3/sources/plex/plex/", Some(&viewer), Some(r#"{"name":"x"}"#)).await;
    assert_eq!((status.as_u16(), body), (403, no_permission.clone()));
    let (status, _) = app
        .send(Method::POST, "/api/v3/sources/plex/", Some(&viewer), Some(r#"{"name":"x","slug":"x","plex_token":"t"}"#))
        .await;
    assert_eq!(status, 403);
    let editor = app
        .user_with_permissions(
            "editor",
            &[
                "authentik_sources_plex.view_plexsource",
                "authentik_sources_plex.change_plexsource",
                "authentik_sources_plex.add_plexsource",
            ],
        )
        .await;
    let (status, body) =
        app.send(Method::PATCH, "/api/v3/sources/plex/plex/", Some(&editor), Some(r#"{"name":"edited"}"#)).await;
    assert_eq!((status.as_u16(), body["name"].clone()), (200, json!("edited")));
    let (status, _) = app
        .send(Method::POST, "/api/v3/sources/plex/", Some(&editor), Some(r#"{"name":"x","slug":"x","plex_token":"t"}"#))
        .await;
    assert_eq!(status, 201);
    let (status, body) = app.send(Method::DELETE, "/api/v3/sources/plex/plex/", Some(&editor), None).await;
    assert_eq!((status.as_u16(), body), (403, no_permission));
    // Permissions of other models don't leak into sources.
    let mapper = app.user_with_permissions("mapper", &["authentik_sources_plex.view_plexsourcepropertymapping"]).await;
    assert_eq!(app.send(Method::GET, "/api/v3/sources/plex/", Some(&mapper), None).await.0, 403);
    assert_eq!(app.send(Method::GET, "/api/v3/propertymappings/source/plex/", Some(&mapper), None).await.0, 200);
}
both!(permissions_decide, permissions_decide);

async fn expired_and_inactive_tokens_are_refused(app: &TestApp) {
    let key = app.user_with_permissions("temp", &["authentik_sources_plex.view_plexsource"]).await;
    assert_eq!(app.send(Method::GET, "/api/v3/sources/plex/", Some(&key), None).await.0, 200);
    app.sql("UPDATE api_token SET expiring = TRUE, expires = 1 WHERE user_id = (SELECT id FROM app_user WHERE username = 'temp')").await;
    let (status, body) = app.send(Method::GET, "/api/v3/sources/plex/", Some(&key), None).await;
    assert_eq!((status.as_u16(), body), (403, json!({"detail": "Token invalid/expired"})));
    let key = app.user_with_permissions("sleepy", &["authentik_sources_plex.view_plexsource"]).await;
    app.sql("UPDATE app_user SET is_active = FALSE WHERE username = 'sleepy'").await;
    assert_eq!(app.send(Method::GET, "/api/v3/sources/plex/", Some(&key), None).await.0, 403);
    // Tokens are stored hashed: the key itself is nowhere in the table.
    let rows = app.store.read().fetch_all("SELECT key_hash, key_encrypted FROM api_token", vec![]).await.unwrap();
    for row in rows {
        assert_ne!(row.text("key_hash").unwrap(), key);
        assert!(!row.text("key_encrypted").unwrap().contains(&key));
    }
}
both!(expired_and_inactive_tokens_are_refused, expired_and_inactive_tokens_are_refused);
