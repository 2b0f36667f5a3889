//! User and group Plex source connections, their cascades and `used_by`.

use reqwest::Method;
use serde_json::{json, Value};

use crate::both;
use crate::helpers::{ordered_keys, sample, sample_text, TestApp};

const USERS: &str = "/api/v3/sources/user_connections/plex/";
const GROUPS: &str = "/api/v3/sources/group_connections/plex/";

/// The sample's connection with this run's ids and timestamp.
fn expected_connection(sample_item: &Value, actual: &Value) -> Value {
    let mut expected = sample_item.clone();
    for key in ["pk", "user", "group", "created"] {
        if expected.get(key).is_some() {
            expected[key] = actual[key].clone();
        }
    }
    expected["source"]["pk"] = actual["source"]["pk"].clone();
    expected
}

async fn setup(app: &TestApp) -> (Value, i64, String) {
    let (status, source) = app
        .post(
            "/api/v3/sources/plex/",
            json!({"name": "Plex Test", "slug": "plex-test", "client_id": "test-client-id", "plex_token": "t"}),
        )
        .await;
    assert_eq!(status, 201);
    let (_, admin) = app.get("/api/v3/core/users/?username=akadmin").await;
    let (_, group) = app.post("/api/v3/core/groups/", json!({"name": "plex-group"})).await;
    (source, admin["results"][0]["pk"].as_i64().unwrap(), group["pk"].as_str().unwrap().to_owned())
}

async fn group_connections(app: &TestApp) {
    let (source, _, group) = setup(app).await;
    assert_eq!(app.get(GROUPS).await.1, sample("11-group-connections-plex-list-empty"));
    let (status, created) =
        app.post(GROUPS, json!({"group": group, "source": "plex-test", "identifier": "plex-group-ident-1"})).await;
    assert_eq!(status, 201, "{created}");
    let expected = expected_connection(&sample("15-group-connections-plex-retrieve"), &created);
    assert_eq!(created, expected);
    assert_eq!(created["group"], json!(group));
    assert_eq!(created["source"]["pk"], source["pk"]);
    assert!(created["created"].as_str().unwrap().ends_with('Z'));
    let id = created["pk"].as_i64().unwrap();
    let raw = app.raw(Method::GET, &format!("{GROUPS}{id}/"), None).await;
    assert_eq!(ordered_keys(&raw), ordered_keys(&sample_text("15-group-connections-plex-retrieve")));

    let mut list = sample("14-group-connections-plex-list-one");
    list["results"][0] = expected.clone();
    assert_eq!(app.get(GROUPS).await.1, list);
    let mut filtered = sample("16-group-connections-plex-filter-slug");
    filtered["results"][0] = expected.clone();
    assert_eq!(app.get(&format!("{GROUPS}?source__slug=plex-test")).await.1, filtered);
    assert_eq!(app.get(&format!("{GROUPS}?source__slug=other")).await.1["pagination"]["count"], 0);
    assert_eq!(app.get(&format!("{GROUPS}?group={group}")).await.1["pagination"]["count"], 1);
    let (status, body) = app.get(&format!("{GROUPS}?group={}", uuid::Uuid::new_v4())).await;
    assert_eq!(
        (status.as_u16(), body),
        (400, json!({"group": ["Select a valid choice. That choice is not one of the available choices."]}))
    );
    assert_eq!(app.get(&format!("{GROUPS}{id}/")).await.1, expected);

    // Bad creates answer 400 and store nothing.
    let missing_group = uuid::Uuid::new_v4();
    for (body, errors) in [
        (
            json!({}),
            json!({"group": ["This field is required."], "source": ["This field is required."], "identifier": ["This field is required."]}),
        ),
        (
            json!({"group": missing_group, "source": "nope", "identifier": "x"}),
            json!({"group": [format!("Invalid pk \"{missing_group}\" - object does not exist.")], "source": ["Object with slug=nope does not exist."]}),
        ),
        (
            json!({"group": group, "source": source["pk"], "identifier": "other"}),
            json!({"non_field_errors": ["The fields group, source must make a unique set."]}),
        ),
    ] {
        let (status, got) = app.post(GROUPS, body.clone()).await;
        assert_eq!((status.as_u16(), got), (400, errors), "{body}");
    }
    assert_eq!(app.get(GROUPS).await.1["pagination"]["count"], 1);

    // Empty PUT (as authentik's client sends it) changes nothing; PATCH changes the identifier.
    let (status, same) = app.send(Method::PUT, &format!("{GROUPS}{id}/"), Some(&app.token), None).await;
    assert_eq!((status.as_u16(), same["identifier"].clone()), (200, json!("plex-group-ident-1")));
    let (_, patched) = app.patch(&format!("{GROUPS}{id}/"), json!({"identifier": "plex-group-2"})).await;
    assert_eq!(patched["identifier"], "plex-group-2");
    assert_eq!(app.get(&format!("{GROUPS}{id}/used_by/")).await.1, json!([]));

    // used_by of the source lists the group connection (sample 18's first entry).
    let (_, used) = app.get("/api/v3/sources/plex/plex-test/used_by/").await;
    assert_eq!(
        used[0],
        json!({"app": "authentik_core", "model_name": "groupsourceconnection", "pk": id.to_string(),
               "name": format!("Group-source connection (group={group}, source={})", source["pk"].as_str().unwrap()), "action": "cascade"})
    );
    // Deleting the group removes its connections.
    assert_eq!(app.delete(&format!("/api/v3/core/groups/{group}/")).await.0, 204);
    assert_eq!(app.get(&format!("{GROUPS}{id}/")).await.0, 404);
}
both!(group_connections, group_connections);

async fn user_connections(app: &TestApp) {
    let (source, admin, _) = setup(app).await;
    assert_eq!(app.get(USERS).await.1, sample("13-user-connections-plex-list-empty"));
    let (status, created) =
        app.post(USERS, json!({"user": admin, "source": source["pk"], "identifier": "plex-user-ident-1", "plex_token": "user-secret"})).await;
    assert_eq!(status, 201, "{created}");
    let mut list = sample("17-user-connections-plex-list-one");
    list["results"][0] = expected_connection(&list["results"][0], &created);
    assert_eq!(created, list["results"][0]);
    assert!(created.get("plex_token").is_none(), "write-only");
    assert_eq!(app.get(USERS).await.1, list);
    let id = created["pk"].as_i64().unwrap();
    let stored = app.store.read().user_connection(plexid_core::UserConnectionId(id)).await.unwrap().unwrap();
    assert_eq!(app.secrets.decrypt(&stored.plex_token).unwrap(), "user-secret");
    assert!(!stored.plex_token.contains("user-secret"));

    // D6: one Plex account per source, one connection per user and source.
    let (_, other) = app.post("/api/v3/core/users/", json!({"username": "other", "name": "O"})).await;
    let other_id = other["pk"].as_i64().unwrap();
    let (status, body) = app
        .post(
            USERS,
            json!({"user": other_id, "source": "plex-test", "identifier": "plex-user-ident-1", "plex_token": "t"}),
        )
        .await;
    assert_eq!(
        (status.as_u16(), body),
        (400, json!({"identifier": ["This Plex account is already linked to another user of this source."]}))
    );
    let (status, body) = app
        .post(USERS, json!({"user": admin, "source": "plex-test", "identifier": "another", "plex_token": "t"}))
        .await;
    assert_eq!(
        (status.as_u16(), body),
        (400, json!({"non_field_errors": ["The fields user, source must make a unique set."]}))
    );
    let (status, body) =
        app.post(USERS, json!({"user": 999999, "source": "plex-test", "identifier": "x", "plex_token": ""})).await;
    assert_eq!(
        (status.as_u16(), body),
        (
            400,
            json!({"user": ["Invalid pk \"999999\" - object does not exist."], "plex_token": ["This field may not be blank."]})
        )
    );
    assert_eq!(app.get(USERS).await.1["pagination"]["count"], 1, "nothing stored by the bad requests");

    assert_eq!(app.get(&format!("{USERS}?user={admin}&source__slug=plex-test")).await.1["pagination"]["count"], 1);
    let (status, body) = app.get(&format!("{USERS}?user=999999")).await;
    assert_eq!(
        (status.as_u16(), body),
        (400, json!({"user": ["Select a valid choice. That choice is not one of the available choices."]}))
    );
    let (_, patched) = app.patch(&format!("{USERS}{id}/"), json!({"plex_token": "rotated"})).await;
    assert_eq!(patched["identifier"], "plex-user-ident-1");
    let (status, put) =
        app.put(&format!("{USERS}{id}/"), json!({"identifier": "plex-user-ident-9", "plex_token": "t9"})).await;
    assert_eq!((status.as_u16(), put["identifier"].clone()), (200, json!("plex-user-ident-9")));

    // used_by of the source (sample 18's user entries) and the cascade on source delete.
    let (_, used) = app.get("/api/v3/sources/plex/plex-test/used_by/").await;
    let source_pk = source["pk"].as_str().unwrap();
    assert_eq!(
        used,
        json!([{"app": "authentik_core", "model_name": "user", "pk": admin.to_string(), "name": "akadmin", "action": "cascade_many"},
               {"app": "authentik_core", "model_name": "usersourceconnection", "pk": id.to_string(),
                "name": format!("User-source connection (user={admin}, source={source_pk})"), "action": "cascade"}])
    );
    assert_eq!(app.delete("/api/v3/sources/plex/plex-test/").await.0, 204);
    assert_eq!(app.get(&format!("{USERS}{id}/")).await.0, 404);
}
both!(user_connections, user_connections);

async fn owners_and_permissions(app: &TestApp) {
    setup(app).await;
    let owner = app.user_with_permissions("owner", &[]).await;
    let (_, me) = app.send(Method::GET, "/api/v3/core/users/me/", Some(&owner), None).await;
    let owner_id = me["user"]["pk"].as_i64().unwrap();
    let (_, mine) =
        app.post(USERS, json!({"user": owner_id, "source": "plex-test", "identifier": "111", "plex_token": "t"})).await;
    let (_, admin) = app.get("/api/v3/core/users/?username=akadmin").await;
    let admin_id = admin["results"][0]["pk"].as_i64().unwrap();
    let (_, theirs) =
        app.post(USERS, json!({"user": admin_id, "source": "plex-test", "identifier": "222", "plex_token": "t"})).await;
    let mine_url = format!("{USERS}{}/", mine["pk"]);
    let theirs_url = format!("{USERS}{}/", theirs["pk"]);

    let (status, listed) = app.send(Method::GET, USERS, Some(&owner), None).await;
    assert_eq!((status.as_u16(), listed["pagination"]["count"].clone()), (200, json!(1)), "owners see only their own");
    assert_eq!(app.send(Method::GET, &theirs_url, Some(&owner), None).await.0, 404);
    let (status, body) = app.send(Method::PATCH, &mine_url, Some(&owner), Some(r#"{"identifier":"999"}"#)).await;
    assert_eq!(
        (status.as_u16(), body),
        (400, json!({"identifier": ["Only an administrator can change the Plex account of a connection."]})),
        "D6"
    );
    assert_eq!(app.send(Method::PATCH, &mine_url, Some(&owner), Some(r#"{"plex_token":"new"}"#)).await.0, 200);
    let body = json!({"user": owner_id, "source": "plex-test", "identifier": "333", "plex_token": "t"}).to_string();
    assert_eq!(app.send(Method::POST, USERS, Some(&owner), Some(&body)).await.0, 403, "linking needs add permission");
    assert_eq!(app.send(Method::DELETE, &mine_url, Some(&owner), None).await.0, 204, "owners disconnect");

    // Group connections follow RBAC (D7): nothing without permission, everything with it.
    let (status, body) = app.send(Method::GET, GROUPS, Some(&owner), None).await;
    assert_eq!((status.as_u16(), body), (403, json!({"detail": "You do not have permission to perform this action."})));
    let (_, group) = app.post("/api/v3/core/groups/", json!({"name": "g"})).await;
    let manager = app
        .user_with_permissions(
            "manager",
            &[
                "authentik_sources_plex.view_groupplexsourceconnection",
                "authentik_sources_plex.add_groupplexsourceconnection",
                "authentik_sources_plex.change_groupplexsourceconnection",
                "authentik_sources_plex.delete_groupplexsourceconnection",
                // A connection decides who joins the group: the rights to change it too (D27).
                "authentik_core.change_group",
            ],
        )
        .await;
    let body = json!({"group": group["pk"], "source": "plex-test", "identifier": "g1"}).to_string();
    let (status, created) = app.send(Method::POST, GROUPS, Some(&manager), Some(&body)).await;
    assert_eq!(status, 201, "{created}");
    let url = format!("{GROUPS}{}/", created["pk"]);
    assert_eq!(app.send(Method::GET, GROUPS, Some(&manager), None).await.0, 200);
    assert_eq!(app.send(Method::PATCH, &url, Some(&manager), Some(r#"{"identifier":"g2"}"#)).await.0, 200);
    assert_eq!(app.send(Method::DELETE, &url, Some(&owner), None).await.0, 403);
    assert_eq!(app.send(Method::DELETE, &url, Some(&manager), None).await.0, 204);
    assert_eq!(app.send(Method::GET, USERS, None, None).await.0, 403);
}
both!(owners_and_permissions, owners_and_permissions);

/// The count of a source's connections is kept by triggers (`source_connection_count`): it must
/// agree with the counted one through creates, deletes, and every cascade.
async fn kept_counts_follow_every_change(app: &TestApp) {
    for slug in ["kept-a", "kept-b"] {
        let body = json!({"name": slug, "slug": slug, "plex_token": "t"});
        assert_eq!(app.post("/api/v3/sources/plex/", body).await.0, 201);
    }
    let mut users = Vec::new();
    for i in 0..3 {
        let (_, user) = app.post("/api/v3/core/users/", json!({"username": format!("kept-{i}"), "name": "K"})).await;
        let body = json!({"user": user["pk"], "source": "kept-a", "identifier": format!("id-{i}"), "plex_token": "t"});
        let (status, connection) = app.post(USERS, body).await;
        assert_eq!(status, 201, "{connection}");
        users.push((user["pk"].as_i64().unwrap(), connection["pk"].as_i64().unwrap()));
    }
    let (_, group) = app.post("/api/v3/core/groups/", json!({"name": "kept-group"})).await;
    let body = json!({"group": group["pk"], "source": "kept-a", "identifier": "g"});
    assert_eq!(app.post(GROUPS, body).await.0, 201);

    // The kept count (source only) against a counted one (source and a search that matches all).
    let check = |slug: &'static str, users: u64, groups: u64| async move {
        for (path, expected) in [(USERS, users), (GROUPS, groups)] {
            let (_, kept) = app.get(&format!("{path}?source__slug={slug}&page_size=2")).await;
            let (_, counted) = app.get(&format!("{path}?source__slug={slug}&page_size=2&search=kept")).await;
            assert_eq!(kept["pagination"]["count"], expected, "{path} {slug}: {kept}");
            assert_eq!(counted["pagination"]["count"], expected, "{path} {slug}: {counted}");
            assert_eq!(kept["results"].as_array().unwrap().len() as u64, expected.min(2));
        }
    };
    check("kept-a", 3, 1).await;
    check("kept-b", 0, 0).await;
    let (_, last) = app.get(&format!("{USERS}?source__slug=kept-a&page_size=2&page=2")).await;
    assert_eq!(last["results"][0]["pk"], users[2].1, "pages in id order: {last}");

    // A connection's source cannot be changed; a second connection of the same user can be made.
    let (_, patched) = app.patch(&format!("{USERS}{}/", users[0].1), json!({"source": "kept-b"})).await;
    assert_eq!(patched["source"]["slug"], "kept-a");
    let body = json!({"user": users[0].0, "source": "kept-b", "identifier": "id-b", "plex_token": "t"});
    assert_eq!(app.post(USERS, body).await.0, 201);
    check("kept-b", 1, 0).await;
    assert_eq!(app.delete(&format!("{USERS}{}/", users[0].1)).await.0, 204);
    check("kept-a", 2, 1).await;
    assert_eq!(app.delete(&format!("/api/v3/core/users/{}/", users[1].0)).await.0, 204);
    check("kept-a", 1, 1).await;
    assert_eq!(app.delete(&format!("/api/v3/core/groups/{}/", group["pk"].as_str().unwrap())).await.0, 204);
    check("kept-a", 1, 0).await;
    assert_eq!(app.delete("/api/v3/sources/plex/kept-a/").await.0, 204);
    check("kept-a", 0, 0).await;
    check("kept-b", 1, 0).await;
}
both!(kept_counts_follow_every_change, kept_counts_follow_every_change);
