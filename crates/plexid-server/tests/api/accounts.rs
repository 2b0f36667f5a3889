//! `/api/v3/core/users/`, `/core/groups/`, `/core/tokens/`.

use reqwest::Method;
use serde_json::{json, Value};

use crate::both;
use crate::helpers::{ordered_keys, TestApp};

async fn users(app: &TestApp) {
    let raw = app
        .raw(Method::POST, "/api/v3/core/users/", Some(r#"{"path": "/x", "email": "nope", "username": "bad name"}"#))
        .await;
    assert_eq!(ordered_keys(&raw), ["username", "name", "email", "path"]);
    let errors: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(
        errors,
        json!({"username": ["Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters."],
               "name": ["This field is required."], "email": ["Enter a valid email address."],
               "path": ["No leading or trailing slashes allowed."]})
    );
    let (status, jane) = app
        .post("/api/v3/core/users/", json!({"username": "jane", "name": "Jane", "email": "jane@example.com", "attributes": {"plex": 1}, "path": "users/plex"}))
        .await;
    assert_eq!(status, 201, "{jane}");
    let keys: Vec<&str> = jane.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 15);
    assert_eq!(
        (jane["is_active"].clone(), jane["is_superuser"].clone(), jane["type"].clone()),
        (json!(true), json!(false), json!("internal"))
    );
    assert_eq!(jane["uid"].as_str().unwrap().len(), 64);
    let id = jane["pk"].as_i64().unwrap();
    let (status, dup) = app.post("/api/v3/core/users/", json!({"username": "jane", "name": "J2"})).await;
    assert_eq!((status.as_u16(), dup), (400, json!({"username": ["A user with that username already exists."]})));

    let (_, listed) = app.get("/api/v3/core/users/?search=JANE").await;
    assert_eq!(listed["pagination"]["count"], 1);
    let (_, by_email) = app.get("/api/v3/core/users/?email=jane@example.com&is_active=true").await;
    assert_eq!(by_email["results"][0]["username"], "jane");
    let (_, ordered) = app.get("/api/v3/core/users/?ordering=-username").await;
    assert_eq!(ordered["results"][0]["username"], "jane");
    assert_eq!(ordered["pagination"]["count"], 2, "akadmin and jane");

    let (status, patched) =
        app.patch(&format!("/api/v3/core/users/{id}/"), json!({"name": "Jane D", "is_active": false})).await;
    assert_eq!(
        (status.as_u16(), patched["name"].clone(), patched["is_active"].clone()),
        (200, json!("Jane D"), json!(false))
    );
    let (status, errors) = app.put(&format!("/api/v3/core/users/{id}/"), json!({"name": "x"})).await;
    assert_eq!((status.as_u16(), errors), (400, json!({"username": ["This field is required."]})));
    let (status, put) =
        app.put(&format!("/api/v3/core/users/{id}/"), json!({"username": "jane2", "name": "Jane"})).await;
    assert_eq!(
        (status.as_u16(), put["username"].clone(), put["email"].clone()),
        (200, json!("jane2"), json!("jane@example.com"))
    );
    assert_eq!(app.post(&format!("/api/v3/core/users/{id}/set_password/"), json!({"password": "s3cret"})).await.0, 204);
    let row = app.store.read().user_by_id(plexid_core::UserId(id)).await.unwrap().unwrap();
    assert!(row.password_hash.unwrap().starts_with("$argon2"), "argon2 hash, not the password");

    let (status, me) = app.get("/api/v3/core/users/me/").await;
    assert_eq!(
        (status.as_u16(), me["user"]["username"].clone(), me["user"]["is_superuser"].clone()),
        (200, json!("akadmin"), json!(true))
    );
    assert_eq!(app.get(&format!("/api/v3/core/users/{id}/used_by/")).await.1, json!([]));
    assert_eq!(app.delete(&format!("/api/v3/core/users/{id}/")).await.0, 204);
    assert_eq!(app.get(&format!("/api/v3/core/users/{id}/")).await.0, 404);
    assert_eq!(app.get("/api/v3/core/users/abc/").await.0, 404);
}
both!(users, users);

async fn groups(app: &TestApp) {
    let (_, user) = app.post("/api/v3/core/users/", json!({"username": "member", "name": "M"})).await;
    let uid = user["pk"].as_i64().unwrap();
    let (status, group) = app
        .post("/api/v3/core/groups/", json!({"name": "plex-users", "attributes": {"from": "plex"}, "users": [uid]}))
        .await;
    assert_eq!(status, 201, "{group}");
    assert_eq!(group["users"], json!([uid]));
    assert_eq!(group["users_obj"][0]["username"], "member");
    let pk = group["pk"].as_str().unwrap().to_owned();
    let (status, errors) = app.post("/api/v3/core/groups/", json!({"name": "", "users": [999999]})).await;
    assert_eq!(status, 400);
    assert_eq!(
        errors,
        json!({"name": ["This field may not be blank."], "users": ["Invalid pk \"999999\" - object does not exist."]})
    );
    let (_, filtered) = app.get("/api/v3/core/groups/?name=plex-users").await;
    assert_eq!(filtered["pagination"]["count"], 1);
    let (_, supers) = app.get("/api/v3/core/groups/?is_superuser=true").await;
    assert_eq!(supers["results"][0]["name"], "authentik Admins");
    assert_eq!(app.post(&format!("/api/v3/core/groups/{pk}/remove_user/"), json!({"pk": uid})).await.0, 204);
    assert_eq!(app.get(&format!("/api/v3/core/groups/{pk}/")).await.1["users"], json!([]));
    assert_eq!(app.post(&format!("/api/v3/core/groups/{pk}/add_user/"), json!({"pk": uid})).await.0, 204);
    let (_, member) = app.get(&format!("/api/v3/core/users/{uid}/")).await;
    assert_eq!(member["groups"], json!([pk]));
    assert_eq!(app.post(&format!("/api/v3/core/groups/{pk}/add_user/"), json!({"pk": 999999})).await.0, 404);
    let (status, patched) = app.patch(&format!("/api/v3/core/groups/{pk}/"), json!({"name": "renamed"})).await;
    assert_eq!(
        (status.as_u16(), patched["name"].clone(), patched["users"].clone()),
        (200, json!("renamed"), json!([uid]))
    );
    assert_eq!(app.delete(&format!("/api/v3/core/groups/{pk}/")).await.0, 204);
    assert_eq!(app.get(&format!("/api/v3/core/users/{uid}/")).await.1["groups"], json!([]));
}
both!(groups, groups);

async fn tokens(app: &TestApp) {
    let (status, token) = app
        .post(
            "/api/v3/core/tokens/",
            json!({"identifier": "ci-token", "intent": "api", "expiring": false, "description": "CI"}),
        )
        .await;
    assert_eq!(status, 201, "{token}");
    assert_eq!((token["user_obj"]["username"].clone(), token["expires"].clone()), (json!("akadmin"), json!(null)));
    assert!(token.get("key").is_none(), "the key is not in the token body");
    let (status, view) = app.get("/api/v3/core/tokens/ci-token/view_key/").await;
    assert_eq!(status, 200);
    let key = view["key"].as_str().unwrap().to_owned();
    let (status, me) = app.send(Method::GET, "/api/v3/core/users/me/", Some(&key), None).await;
    assert_eq!((status.as_u16(), me["user"]["username"].clone()), (200, json!("akadmin")), "the new key authenticates");
    let (_, expiring) = app.post("/api/v3/core/tokens/", json!({"identifier": "short"})).await;
    assert!(expiring["expires"].is_string(), "expiring tokens default to 30 minutes: {expiring}");
    let (status, dup) = app.post("/api/v3/core/tokens/", json!({"identifier": "ci-token"})).await;
    assert_eq!((status.as_u16(), dup), (400, json!({"identifier": ["Token with this identifier already exists."]})));
    // Expired tokens are refused.
    let (_, past) =
        app.post("/api/v3/core/tokens/", json!({"identifier": "past", "expires": "2000-01-01T00:00:00Z"})).await;
    let (_, past_key) = app.get("/api/v3/core/tokens/past/view_key/").await;
    let (status, body) =
        app.send(Method::GET, "/api/v3/core/users/me/", Some(past_key["key"].as_str().unwrap()), None).await;
    assert_eq!((status.as_u16(), body), (403, json!({"detail": "Token invalid/expired"})), "{past}");
    // Other users see only their own tokens and cannot read others' keys.
    let other = app.user_with_permissions("other", &[]).await;
    let (_, mine) = app.send(Method::GET, "/api/v3/core/tokens/", Some(&other), None).await;
    assert_eq!(mine["pagination"]["count"], 1);
    assert_eq!(app.send(Method::GET, "/api/v3/core/tokens/ci-token/view_key/", Some(&other), None).await.0, 404);
    let (status, _) =
        app.send(Method::POST, "/api/v3/core/tokens/", Some(&other), Some(r#"{"identifier":"x","user":1}"#)).await;
    assert_eq!(status, 403, "only superusers create tokens for others");
    let (_, listed) = app.get("/api/v3/core/tokens/?identifier=ci-token").await;
    assert_eq!(listed["results"][0]["description"], "CI");
    assert_eq!(
        app.patch("/api/v3/core/tokens/ci-token/", json!({"description": "changed"})).await.1["description"],
        "changed"
    );
    assert_eq!(app.delete("/api/v3/core/tokens/ci-token/").await.0, 204);
    assert_eq!(
        app.send(Method::GET, "/api/v3/core/users/me/", Some(&key), None).await.0,
        403,
        "a deleted token stops working"
    );
}
both!(tokens, tokens);

async fn non_superusers_cannot_escalate(app: &TestApp) {
    let manager = app
        .user_with_permissions(
            "manager",
            &[
                "authentik_core.view_user",
                "authentik_core.change_user",
                "authentik_core.view_group",
                "authentik_core.change_group",
            ],
        )
        .await;
    let (_, admins) = app.get("/api/v3/core/groups/?is_superuser=true").await;
    let admins = admins["results"][0]["pk"].as_str().unwrap().to_owned();
    let (_, me) = app.send(Method::GET, "/api/v3/core/users/me/", Some(&manager), None).await;
    let my_id = me["user"]["pk"].as_i64().unwrap();
    let body = json!({"groups": [admins]}).to_string();
    let (status, _) =
        app.send(Method::PATCH, &format!("/api/v3/core/users/{my_id}/"), Some(&manager), Some(&body)).await;
    assert_eq!(status, 403);
    let body = json!({"pk": my_id}).to_string();
    let (status, _) =
        app.send(Method::POST, &format!("/api/v3/core/groups/{admins}/add_user/"), Some(&manager), Some(&body)).await;
    assert_eq!(status, 403);
    let (_, admin) = app.get("/api/v3/core/users/?username=akadmin").await;
    let admin_id = admin["results"][0]["pk"].as_i64().unwrap();
    let (status, _) = app
        .send(
            Method::POST,
            &format!("/api/v3/core/users/{admin_id}/set_password/"),
            Some(&manager),
            Some(r#"{"password":"x"}"#),
        )
        .await;
    assert_eq!(status, 403, "a superuser's password is changed only by a superuser");
    let (_, me) = app.send(Method::GET, "/api/v3/core/users/me/", Some(&manager), None).await;
    assert_eq!(me["user"]["is_superuser"], false);
    let perms: Vec<Value> = me["user"]["system_permissions"].as_array().unwrap().clone();
    assert_eq!(perms.len(), 4);
}
both!(non_superusers_cannot_escalate, non_superusers_cannot_escalate);

async fn group_nesting_is_bounded_and_acyclic(app: &TestApp) {
    let create = |name: String, parent: Option<String>| async move {
        let (status, group) = app.post("/api/v3/core/groups/", json!({"name": name, "parent": parent})).await;
        assert_eq!(status, 201, "{group}");
        group["pk"].as_str().unwrap().to_owned()
    };
    let a = create("a".into(), None).await;
    let b = create("b".into(), Some(a.clone())).await;
    let c = create("c".into(), Some(b.clone())).await;
    let cycle = json!({"parent": ["Cannot set group as parent of itself or of one of its own subgroups."]});
    for parent in [&a, &c] {
        let (status, errors) = app.patch(&format!("/api/v3/core/groups/{a}/"), json!({"parent": parent})).await;
        assert_eq!((status.as_u16(), errors), (400, cycle.clone()), "parent {parent}");
    }
    // A chain of 20 is the deepest allowed.
    let mut parent = c;
    for i in 4..=20 {
        parent = create(format!("g{i}"), Some(parent)).await;
    }
    let (status, errors) = app.post("/api/v3/core/groups/", json!({"name": "too deep", "parent": parent})).await;
    assert_eq!((status.as_u16(), errors), (400, json!({"parent": ["Groups can be nested at most 20 deep."]})));
    // Moving a subtree under another counts its own depth too.
    let x = create("x".into(), None).await;
    create("y".into(), Some(x.clone())).await;
    let (status, _) = app.patch(&format!("/api/v3/core/groups/{x}/"), json!({"parent": parent})).await;
    assert_eq!(status, 400);
}
both!(group_nesting_is_bounded_and_acyclic, group_nesting_is_bounded_and_acyclic);
