//! The audit log of administrative changes (issue 20), on both databases: every change to
//! sources, mappings, flows, groups, memberships, users, tokens, providers and applications is
//! a `model_created`, `model_updated` or `model_deleted` event in authentik's shape (the model,
//! the field diff, the request, the acting user), written with the change and never for a
//! refused one, with no secret in it; sign-outs and application refusals are recorded; and
//! administration is never lost by accident (the last administrator, your own rights).

use serde_json::{json, Value};

use crate::both;
use crate::helpers::TestApp;

/// The newest event about `model_name` with `pk`, of `action`.
async fn last_event(app: &TestApp, action: &str, model_name: &str, pk: &str) -> Value {
    let path = format!("/api/v3/events/events/?action={action}&context_model_name={model_name}&context_model_pk={pk}");
    let (status, body) = app.get(&path).await;
    assert_eq!(status, 200, "{body}");
    let event = body["results"][0].clone();
    assert!(event.is_object(), "no {action} event of {model_name} {pk}: {body}");
    event
}

async fn count(app: &TestApp, action: &str) -> u64 {
    app.count(&format!("/api/v3/events/events/?action={action}")).await
}

fn pk(value: &Value) -> String {
    match &value["pk"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

async fn admin_changes_are_audited(app: &TestApp) {
    let before = count(app, "model_created").await;
    // A refused change writes no event.
    assert_eq!(app.post("/api/v3/sources/plex/", json!({"name": "x"})).await.0, 400);
    assert_eq!(count(app, "model_created").await, before);

    // A source: created (every field, the token cleansed), changed (only what changed), deleted.
    let body = json!({"name": "Audited", "slug": "audited", "plex_token": "secret-plex-token"});
    let (status, source) = app.post("/api/v3/sources/plex/?via=test", body).await;
    assert_eq!(status, 201, "{source}");
    let event = last_event(app, "model_created", "plexsource", &pk(&source)).await;
    assert_eq!(event["app"], "authentik.events.middleware");
    assert_eq!(event["user"]["username"], "akadmin");
    assert_eq!(
        event["context"]["model"],
        json!({"app": "authentik_sources_plex", "model_name": "plexsource", "pk": pk(&source), "name": "Audited"})
    );
    assert_eq!(event["context"]["diff"]["slug"], json!({"previous_value": null, "new_value": "audited"}));
    assert_eq!(event["context"]["diff"]["plex_token"]["new_value"], "********************");
    let request = &event["context"]["http_request"];
    assert_eq!((request["method"].as_str(), request["path"].as_str()), (Some("POST"), Some("/api/v3/sources/plex/")));
    assert_eq!(request["args"], json!({"via": "test"}));
    assert_eq!(event["client_ip"], "127.0.0.1");
    assert!(!event.to_string().contains("secret-plex-token"), "no token in the log: {event}");
    let (status, _) = app.patch("/api/v3/sources/plex/audited/", json!({"allow_friends": false})).await;
    assert_eq!(status, 200);
    let event = last_event(app, "model_updated", "plexsource", &pk(&source)).await;
    assert_eq!(event["context"]["diff"], json!({"allow_friends": {"previous_value": true, "new_value": false}}));
    assert_eq!(app.delete("/api/v3/sources/plex/audited/").await.0, 204);
    last_event(app, "model_deleted", "plexsource", &pk(&source)).await;

    // A property mapping.
    let (status, mapping) =
        app.post("/api/v3/propertymappings/source/plex/", json!({"name": "M", "expression": "return {}"})).await;
    assert_eq!(status, 201, "{mapping}");
    let path = format!("/api/v3/propertymappings/source/plex/{}/", pk(&mapping));
    assert_eq!(app.patch(&path, json!({"expression": "return {'a': 1}"})).await.0, 200);
    let event = last_event(app, "model_updated", "plexsourcepropertymapping", &pk(&mapping)).await;
    assert_eq!(event["context"]["diff"]["expression"]["new_value"], "return {'a': 1}");
    assert_eq!(app.delete(&path).await.0, 204);
    last_event(app, "model_deleted", "plexsourcepropertymapping", &pk(&mapping)).await;

    // A flow.
    let flow = json!({"name": "F", "slug": "audited-flow", "title": "F", "designation": "authorization"});
    let (status, flow) = app.post("/api/v3/flows/instances/", flow).await;
    assert_eq!(status, 201, "{flow}");
    assert_eq!(app.patch("/api/v3/flows/instances/audited-flow/", json!({"title": "G"})).await.0, 200);
    let event = last_event(app, "model_updated", "flow", &pk(&flow)).await;
    assert_eq!(event["context"]["diff"], json!({"title": {"previous_value": "F", "new_value": "G"}}));
    assert_eq!(app.delete("/api/v3/flows/instances/audited-flow/").await.0, 204);
    last_event(app, "model_deleted", "flow", &pk(&flow)).await;

    // A user, a group and the memberships between them (authentik's m2m diff on the group).
    let (status, user) = app.post("/api/v3/core/users/", json!({"username": "audited", "name": "A"})).await;
    assert_eq!(status, 201, "{user}");
    last_event(app, "model_created", "user", &pk(&user)).await;
    let (status, group) = app.post("/api/v3/core/groups/", json!({"name": "Audited group"})).await;
    assert_eq!(status, 201, "{group}");
    last_event(app, "model_created", "group", &pk(&group)).await;
    let group_path = format!("/api/v3/core/groups/{}/", pk(&group));
    assert_eq!(app.post(&format!("{group_path}add_user/"), json!({"pk": user["pk"]})).await.0, 204);
    let event = last_event(app, "model_updated", "group", &pk(&group)).await;
    assert_eq!(event["context"]["diff"], json!({"users": {"add": [user["pk"]]}}));
    assert_eq!(app.post(&format!("{group_path}remove_user/"), json!({"pk": user["pk"]})).await.0, 204);
    let event = last_event(app, "model_updated", "group", &pk(&group)).await;
    assert_eq!(event["context"]["diff"], json!({"users": {"remove": [user["pk"]]}}));
    // Through the user's own groups field, too.
    let user_path = format!("/api/v3/core/users/{}/", pk(&user));
    assert_eq!(app.patch(&user_path, json!({"groups": [pk(&group)], "name": "B"})).await.0, 200);
    let event = last_event(app, "model_updated", "group", &pk(&group)).await;
    assert_eq!(event["context"]["diff"], json!({"users": {"add": [user["pk"]]}}));
    let event = last_event(app, "model_updated", "user", &pk(&user)).await;
    assert_eq!(event["context"]["diff"], json!({"name": {"previous_value": "A", "new_value": "B"}}));
    let password = json!({"password": "a long new password"});
    assert_eq!(app.post(&format!("{user_path}set_password/"), password).await.0, 204);
    let event = last_event(app, "model_updated", "user", &pk(&user)).await;
    assert_eq!(event["context"]["diff"]["password"]["new_value"], "********************");
    assert!(!event.to_string().contains("a long new password"));

    // An API token: its key never appears.
    let token = json!({"identifier": "audited-token", "user": user["pk"], "expiring": false});
    let (status, token) = app.post("/api/v3/core/tokens/", token).await;
    assert_eq!(status, 201, "{token}");
    let (_, key) = app.get("/api/v3/core/tokens/audited-token/view_key/").await;
    let event = last_event(app, "model_created", "token", &pk(&token)).await;
    assert!(!event.to_string().contains(key["key"].as_str().unwrap()), "{event}");
    assert_eq!(app.patch("/api/v3/core/tokens/audited-token/", json!({"description": "d"})).await.0, 200);
    last_event(app, "model_updated", "token", &pk(&token)).await;
    assert_eq!(app.delete("/api/v3/core/tokens/audited-token/").await.0, 204);
    last_event(app, "model_deleted", "token", &pk(&token)).await;
    assert_eq!(app.delete(&user_path).await.0, 204);
    last_event(app, "model_deleted", "user", &pk(&user)).await;
    assert_eq!(app.delete(&group_path).await.0, 204);
    last_event(app, "model_deleted", "group", &pk(&group)).await;

    // A provider and its application; an OAuth2 client secret never appears.
    let provider = app.oauth2_provider("Audited provider", json!({})).await;
    let event = last_event(app, "model_created", "oauth2provider", &pk(&provider)).await;
    assert_eq!(event["context"]["model"]["app"], "authentik_providers_oauth2");
    assert_eq!(event["context"]["diff"]["client_secret"]["new_value"], "********************");
    assert!(!event.to_string().contains(provider["client_secret"].as_str().unwrap()), "{event}");
    let provider_path = format!("/api/v3/providers/oauth2/{}/", pk(&provider));
    assert_eq!(app.patch(&provider_path, json!({"name": "Renamed provider"})).await.0, 200);
    last_event(app, "model_updated", "oauth2provider", &pk(&provider)).await;
    let application = app.application("audited-app", &provider["pk"], json!({})).await;
    last_event(app, "model_created", "application", &pk(&application)).await;
    let app_path = "/api/v3/core/applications/audited-app/";
    assert_eq!(app.patch(app_path, json!({"meta_launch_url": "https://app.example.com/"})).await.0, 200);
    let event = last_event(app, "model_updated", "application", &pk(&application)).await;
    let launch = json!({"previous_value": "", "new_value": "https://app.example.com/"});
    assert_eq!(event["context"]["diff"], json!({"meta_launch_url": launch}), "{event}");
    assert_eq!(app.delete(app_path).await.0, 204);
    last_event(app, "model_deleted", "application", &pk(&application)).await;
    assert_eq!(app.delete(&provider_path).await.0, 204);
    last_event(app, "model_deleted", "oauth2provider", &pk(&provider)).await;
}
both!(admin_changes_are_audited, admin_changes_are_audited);

/// The superuser group's pk and the pk of the user named `username`.
async fn admins_and(app: &TestApp, username: &str) -> (String, Value) {
    let (_, supers) = app.get("/api/v3/core/groups/?is_superuser=true").await;
    let (_, users) = app.get(&format!("/api/v3/core/users/?username={username}")).await;
    (pk(&supers["results"][0]), users["results"][0]["pk"].clone())
}

async fn administration_is_never_lost(app: &TestApp) {
    let (group, akadmin) = admins_and(app, "akadmin").await;
    let remove = format!("/api/v3/core/groups/{group}/remove_user/");
    // The only administrator cannot remove themselves, nor be deactivated or deleted.
    let (status, body) = app.post(&remove, json!({"pk": akadmin})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body, json!({"non_field_errors": [plexid_core::rules::LAST_ADMIN]}));
    let akadmin_path = format!("/api/v3/core/users/{akadmin}/");
    let (status, body) = app.patch(&akadmin_path, json!({"is_active": false})).await;
    assert_eq!((status.as_u16(), body["non_field_errors"][0].as_str()), (400, Some(plexid_core::rules::LAST_ADMIN)));
    assert_eq!(app.patch(&akadmin_path, json!({"groups": []})).await.0, 400);
    assert_eq!(app.delete(&akadmin_path).await.0, 400);
    assert_eq!(app.patch(&format!("/api/v3/core/groups/{group}/"), json!({"is_superuser": false})).await.0, 400);
    assert_eq!(app.delete(&format!("/api/v3/core/groups/{group}/")).await.0, 400);
    let (_, me) = app.get("/api/v3/core/users/me/").await;
    assert_eq!(me["user"]["is_superuser"], true, "nothing changed: {me}");
    assert_eq!(count(app, "model_deleted").await, 0, "no event for a refused change");

    // With a second administrator, still not yourself; the other one, yes.
    let second_token = app.user_with_permissions("second", &[]).await;
    let (_, second) = admins_and(app, "second").await;
    assert_eq!(app.post(&format!("/api/v3/core/groups/{group}/add_user/"), json!({"pk": second})).await.0, 204);
    let (status, body) = app.post(&remove, json!({"pk": akadmin})).await;
    assert_eq!((status.as_u16(), body["non_field_errors"][0].as_str()), (400, Some(plexid_core::rules::OWN_ADMIN)));
    let body = json!({"pk": akadmin}).to_string();
    let (status, _) = app.send(reqwest::Method::POST, &remove, Some(&second_token), Some(&body)).await;
    assert_eq!(status, 204, "another administrator may remove akadmin");
    let (_, me) = app.get("/api/v3/core/users/me/").await;
    assert_eq!(me["user"]["is_superuser"], false);
}
both!(administration_is_never_lost, administration_is_never_lost);

/// Signing out and being refused an application are in the log too.
async fn sign_outs_and_refusals_are_audited(app: &TestApp) {
    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    let mut member = app.sign_in("plex", crate::login::MEMBER).await;
    assert!(app.me(&mut member).await.is_some());
    let provider = app.oauth2_provider("Owner only", json!({})).await;
    app.application("owner-only", &provider["pk"], json!({"access_relationships": ["owner"]})).await;
    let authorize = format!(
        "/application/o/authorize/?response_type=code&client_id={}&redirect_uri=https%3A%2F%2Fapp.example.com%2Foauth%2Fcallback&scope=openid",
        provider["client_id"].as_str().unwrap()
    );
    let answer = app.browser(&mut member, reqwest::Method::GET, &authorize, None, false).await;
    assert_eq!(answer.status, 403);
    let (_, events) = app.get("/api/v3/events/events/?action=policy_execution&username=member").await;
    assert_eq!(events["pagination"]["count"], 1, "{events}");
    assert_eq!(events["results"][0]["context"]["result"]["passing"], false);
    let csrf = member.get("plexid_csrf").unwrap().to_owned();
    assert!(app.form_post(&mut member, "/if/logout/", &[("csrf", &csrf)]).await.is_redirection());
    let (_, events) = app.get("/api/v3/events/events/?action=logout&username=member").await;
    assert_eq!(events["pagination"]["count"], 1, "{events}");
}
both!(sign_outs_and_refusals_are_audited, sign_outs_and_refusals_are_audited);
