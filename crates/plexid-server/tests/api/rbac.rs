//! Granting and revoking global permissions through the API.

use reqwest::Method;
use serde_json::json;

use crate::both;
use crate::helpers::TestApp;

async fn grants_to_users_and_groups(app: &TestApp) {
    let key = app.user_with_permissions("alice", &[]).await;
    let (_, me) = app.send(Method::GET, "/api/v3/core/users/me/", Some(&key), None).await;
    let id = me["user"]["pk"].as_i64().unwrap();
    assert_eq!(app.send(Method::GET, "/api/v3/sources/plex/", Some(&key), None).await.0, 403);

    let assign = format!("/api/v3/rbac/permissions/assigned_by_users/{id}/assign/");
    let (status, body) =
        app.post(&assign, json!({"permissions": ["authentik_sources_plex.view_plexsource", "bogus.perm"]})).await;
    assert_eq!((status.as_u16(), body), (400, json!({"permissions": ["Unknown permission \"bogus.perm\"."]})));
    assert_eq!(
        app.send(Method::GET, "/api/v3/sources/plex/", Some(&key), None).await.0,
        403,
        "a bad request grants nothing"
    );
    let (status, body) = app.post(&assign, json!({"permissions": ["authentik_sources_plex.view_plexsource"]})).await;
    assert_eq!((status.as_u16(), body), (200, json!([{"id": "authentik_sources_plex.view_plexsource"}])));
    assert_eq!(app.send(Method::GET, "/api/v3/sources/plex/", Some(&key), None).await.0, 200);
    let (status, _) =
        app.post(&assign, json!({"permissions": ["authentik_sources_plex.view_plexsource"], "object_pk": "x"})).await;
    assert_eq!(status, 400, "object permissions are not supported");

    // Only superusers grant.
    let body = json!({"permissions": ["authentik_sources_plex.add_plexsource"]}).to_string();
    assert_eq!(app.send(Method::POST, &assign, Some(&key), Some(&body)).await.0, 403);

    let unassign = format!("/api/v3/rbac/permissions/assigned_by_users/{id}/unassign/");
    assert_eq!(app.patch(&unassign, json!({"permissions": ["authentik_sources_plex.view_plexsource"]})).await.0, 204);
    assert_eq!(app.send(Method::GET, "/api/v3/sources/plex/", Some(&key), None).await.0, 403);

    // Through a group.
    let (_, group) = app.post("/api/v3/core/groups/", json!({"name": "viewers", "users": [id]})).await;
    let group = group["pk"].as_str().unwrap();
    let path = format!("/api/v3/rbac/permissions/assigned_by_groups/{group}/assign/");
    assert_eq!(app.post(&path, json!({"permissions": ["authentik_sources_plex.view_plexsource"]})).await.0, 200);
    assert_eq!(app.send(Method::GET, "/api/v3/sources/plex/", Some(&key), None).await.0, 200);
    let path = format!("/api/v3/rbac/permissions/assigned_by_groups/{group}/unassign/");
    assert_eq!(app.patch(&path, json!({"permissions": ["authentik_sources_plex.view_plexsource"]})).await.0, 204);
    assert_eq!(app.send(Method::GET, "/api/v3/sources/plex/", Some(&key), None).await.0, 403);
    assert_eq!(
        app.post("/api/v3/rbac/permissions/assigned_by_users/999999/assign/", json!({"permissions": []})).await.0,
        404
    );
}
both!(grants_to_users_and_groups, grants_to_users_and_groups);
