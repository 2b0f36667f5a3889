//! `/api/v3/sources/plex/`, checked against authentik's recorded exchanges.

use serde_json::{json, Value};

use crate::both;
use crate::helpers::{ordered_keys, sample, sample_text, TestApp};

const LIST: &str = "/api/v3/sources/plex/";

/// The sample with plexid's deliberate differences applied: its own pk, masked token (D1).
fn expected_source(sample_body: &Value, pk: &Value) -> Value {
    let mut expected = sample_body.clone();
    expected["pk"] = pk.clone();
    expected["plex_token"] = json!("********");
    expected
}

async fn sample_exchanges(app: &TestApp) {
    // 01: empty list.
    assert_eq!(app.get(LIST).await, (reqwest::StatusCode::OK, sample("01-plex-list-empty")));
    // 02: missing required fields.
    let (status, body) = app.post(LIST, json!({})).await;
    assert_eq!((status.as_u16(), body), (400, sample("02-plex-create-missing-fields-400")));
    // 03: full create.
    let request = json!({"name":"Plex Test","slug":"plex-test","client_id":"test-client-id","plex_token":"test-plex-token","allowed_servers":["server-a","server-b"],"allow_friends":true});
    let (status, created) = app.post(LIST, request).await;
    assert_eq!(status, 201);
    let pk = created["pk"].clone();
    assert!(uuid::Uuid::parse_str(pk.as_str().unwrap()).is_ok());
    assert_eq!(created, expected_source(&sample("03-plex-create-201"), &pk));
    // The source's keys come in authentik's order.
    let raw = app.raw(reqwest::Method::GET, "/api/v3/sources/plex/plex-test/", None).await;
    assert_eq!(ordered_keys(&raw), ordered_keys(&sample_text("05-plex-retrieve")));
    // 04, 05, 20: list, retrieve, search + ordering.
    let (_, listed) = app.get(LIST).await;
    let mut expected = sample("04-plex-list");
    expected["results"][0] = expected_source(&expected["results"][0], &pk);
    assert_eq!(listed, expected);
    let (status, one) = app.get("/api/v3/sources/plex/plex-test/").await;
    assert_eq!((status.as_u16(), one), (200, expected_source(&sample("05-plex-retrieve"), &pk)));
    let (_, searched) = app.get("/api/v3/sources/plex/?search=plex&ordering=slug").await;
    let mut expected = sample("20-plex-list-search");
    expected["results"][0] = expected_source(&expected["results"][0], &pk);
    assert_eq!(searched, expected);
    // 06, 07: bad and duplicate slugs.
    let (status, body) =
        app.post(LIST, json!({"name":"Plex Bad","slug":"bad slug!","client_id":"x","plex_token":"y"})).await;
    assert_eq!((status.as_u16(), body), (400, sample("06-plex-create-bad-slug-400")));
    let (status, body) =
        app.post(LIST, json!({"name":"Plex Dup","slug":"plex-test","client_id":"x","plex_token":"y"})).await;
    assert_eq!((status.as_u16(), body), (400, sample("07-plex-create-duplicate-slug-400")));
    // 18: used_by of a source nobody is connected to.
    assert_eq!(app.get("/api/v3/sources/plex/plex-test/used_by/").await, (reqwest::StatusCode::OK, json!([])));
    // 21: minimal create gets defaults and a 40-character client id.
    let (status, minimal) =
        app.post(LIST, json!({"name":"Plex Minimal","slug":"plex-minimal","plex_token":"tok"})).await;
    assert_eq!(status, 201);
    let client_id = minimal["client_id"].as_str().unwrap().to_owned();
    assert_eq!(client_id.len(), 40);
    assert!(client_id.bytes().all(|b| b.is_ascii_alphanumeric()));
    let mut expected = expected_source(&sample("21-plex-create-minimal-201"), &minimal["pk"]);
    expected["client_id"] = json!(client_id);
    assert_eq!(minimal, expected);
    // 22: partial update.
    let (status, patched) = app
        .patch(
            "/api/v3/sources/plex/plex-minimal/",
            json!({"allow_friends":false,"allowed_servers":["only-one"],"enabled":false}),
        )
        .await;
    let mut expected = expected_source(&sample("22-plex-patch-200"), &minimal["pk"]);
    expected["client_id"] = json!(client_id);
    assert_eq!((status.as_u16(), patched), (200, expected));
    // 23, 24, 25: 404, delete, 404 after delete.
    let (status, body) = app.get("/api/v3/sources/plex/does-not-exist/").await;
    assert_eq!((status.as_u16(), body), (404, sample("23-plex-retrieve-404")));
    assert_eq!(app.delete("/api/v3/sources/plex/plex-minimal/").await, (reqwest::StatusCode::NO_CONTENT, Value::Null));
    let (status, body) = app.get("/api/v3/sources/plex/plex-minimal/").await;
    assert_eq!((status.as_u16(), body), (404, sample("25-plex-retrieve-after-delete-404")));
    // 26: every bad field reported together, in authentik's order.
    let bad = json!({"name":"","slug":"","plex_token":"","allowed_servers":"notalist","allow_friends":"maybe","policy_engine_mode":"bogus","user_matching_mode":"bogus","authentication_flow":"not-a-uuid"});
    let raw = app.raw(reqwest::Method::POST, LIST, Some(&bad.to_string())).await;
    assert_eq!(serde_json::from_str::<Value>(&raw).unwrap(), sample("26-plex-create-bad-types-400"));
    assert_eq!(
        ordered_keys(&raw),
        ordered_keys(&sample_text("26-plex-create-bad-types-400")),
        "errors in authentik's field order"
    );
}
both!(reproduces_authentik_samples, sample_exchanges);

async fn pagination_filters_ordering(app: &TestApp) {
    for slug in ["c-source", "a-source", "b-source"] {
        app.create_source(slug).await;
    }
    let (_, page) = app.get("/api/v3/sources/plex/?page=2&page_size=1").await;
    assert_eq!(
        page["pagination"],
        json!({"next":3,"previous":1,"count":3,"current":2,"total_pages":3,"start_index":2,"end_index":2})
    );
    assert_eq!(page["results"][0]["slug"], "b-source");
    let (status, body) = app.get("/api/v3/sources/plex/?page=9").await;
    assert_eq!((status.as_u16(), body), (404, json!({"detail": "Invalid page."})));
    let (_, last) = app.get("/api/v3/sources/plex/?page=last&page_size=2").await;
    assert_eq!(last["pagination"]["current"], 2);
    assert_eq!(last["results"].as_array().unwrap().len(), 1);
    let (_, huge) = app.get("/api/v3/sources/plex/?page_size=100000").await;
    assert_eq!(huge["pagination"]["count"], 3);
    let (_, desc) = app.get("/api/v3/sources/plex/?ordering=-slug,bogus").await;
    let slugs: Vec<&str> = desc["results"].as_array().unwrap().iter().map(|s| s["slug"].as_str().unwrap()).collect();
    assert_eq!(slugs, ["c-source", "b-source", "a-source"]);
    app.patch("/api/v3/sources/plex/a-source/", json!({"allow_friends": false, "user_matching_mode": "email_link"}))
        .await;
    let (_, filtered) = app.get("/api/v3/sources/plex/?allow_friends=false&user_matching_mode=email_link").await;
    assert_eq!(filtered["pagination"]["count"], 1);
    assert_eq!(filtered["results"][0]["slug"], "a-source");
    let (_, ignored) = app.get("/api/v3/sources/plex/?allow_friends=maybe").await;
    assert_eq!(ignored["pagination"]["count"], 3, "a bad boolean filter is ignored");
    let (status, body) = app.get("/api/v3/sources/plex/?user_matching_mode=bogus").await;
    assert_eq!(
        (status.as_u16(), body),
        (400, json!({"user_matching_mode": ["Select a valid choice. bogus is not one of the available choices."]}))
    );
    let (status, body) = app.get(&format!("/api/v3/sources/plex/?authentication_flow={}", uuid::Uuid::new_v4())).await;
    assert_eq!(
        (status.as_u16(), body),
        (
            400,
            json!({"authentication_flow": ["Select a valid choice. That choice is not one of the available choices."]})
        )
    );
    let (_, searched) = app.get("/api/v3/sources/plex/?search=b-sou,SOURCE").await;
    assert_eq!(searched["pagination"]["count"], 1);
    let (_, wildcard) = app.get("/api/v3/sources/plex/?search=%25").await;
    assert_eq!(wildcard["pagination"]["count"], 0, "LIKE wildcards are escaped");
}
both!(paginates_filters_and_orders, pagination_filters_ordering);

async fn put_replaces_and_keeps_masked_token(app: &TestApp) {
    let (_, flows) = app.get("/api/v3/flows/instances/?slug=default-source-authentication").await;
    let flow = flows["results"][0]["pk"].clone();
    let (_, mapping) =
        app.post("/api/v3/propertymappings/source/plex/", json!({"name": "m1", "expression": "return {}"})).await;
    let (status, created) = app
        .post("/api/v3/sources/plex/", json!({"name": "Plex", "slug": "plex-test", "plex_token": "original-secret"}))
        .await;
    assert_eq!(status, 201);
    // Omitting plex_token in a PUT is an error and changes nothing.
    let (status, body) = app.put("/api/v3/sources/plex/plex-test/", json!({"name": "Renamed", "slug": "plex"})).await;
    assert_eq!((status.as_u16(), body), (400, json!({"plex_token": ["This field is required."]})));
    assert_eq!(app.get("/api/v3/sources/plex/plex-test/").await.1, created);
    // Sending the placeholder back keeps the stored token; the slug (and URL) may change.
    let put = json!({"name": "Plex", "slug": "plex", "plex_token": "********", "allowed_servers": ["abc123"],
        "allow_friends": false, "user_matching_mode": "email_link", "group_matching_mode": "name_link",
        "authentication_flow": flow, "enrollment_flow": null, "user_property_mappings": [mapping["pk"]], "group_property_mappings": []});
    let (status, updated) = app.put("/api/v3/sources/plex/plex-test/", put).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["slug"], "plex");
    assert_eq!(updated["authentication_flow"], flow);
    assert_eq!(updated["user_property_mappings"], json!([mapping["pk"]]));
    assert_eq!(updated["plex_token"], "********");
    assert_eq!(app.get("/api/v3/sources/plex/plex-test/").await.0, 404);
    let stored = app.store.read().source_by_slug("plex").await.unwrap().unwrap();
    assert_eq!(app.secrets.decrypt(&stored.plex_token).unwrap(), "original-secret");
    assert!(!stored.plex_token.contains("original-secret"), "encrypted at rest");
    // A new token replaces it.
    app.patch("/api/v3/sources/plex/plex/", json!({"plex_token": "new-secret"})).await;
    let stored = app.store.read().source_by_slug("plex").await.unwrap().unwrap();
    assert_eq!(app.secrets.decrypt(&stored.plex_token).unwrap(), "new-secret");
    // The token never appears in any response.
    let (_, listed) = app.get("/api/v3/sources/plex/").await;
    assert!(!listed.to_string().contains("new-secret"));
}
both!(put_replaces_and_keeps_masked_token, put_replaces_and_keeps_masked_token);

async fn references_must_exist(app: &TestApp) {
    let ghost = uuid::Uuid::new_v4();
    let body = json!({"name": "P", "slug": "p", "plex_token": "t", "enrollment_flow": ghost,
        "user_property_mappings": [ghost], "allowed_servers": ["ok", " "], "slug_extra": 1});
    let raw = app.raw(reqwest::Method::POST, "/api/v3/sources/plex/", Some(&body.to_string())).await;
    assert_eq!(
        ordered_keys(&raw),
        ["enrollment_flow", "user_property_mappings", "allowed_servers"],
        "database checks merge into field order"
    );
    let errors: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(
        errors,
        json!({"enrollment_flow": [format!("Invalid pk \"{ghost}\" - object does not exist.")],
               "user_property_mappings": [format!("Invalid pk \"{ghost}\" - object does not exist.")],
               "allowed_servers": {"1": ["This field may not be blank."]}})
    );
    let (_, listed) = app.get("/api/v3/sources/plex/").await;
    assert_eq!(listed["pagination"]["count"], 0, "nothing stored");
    let long = "x".repeat(51);
    let (_, errors) =
        app.post("/api/v3/sources/plex/", json!({"name": "P", "slug": long, "plex_token": "t", "enabled": null})).await;
    assert_eq!(
        errors,
        json!({"slug": ["Ensure this field has no more than 50 characters."], "enabled": ["This field may not be null."]})
    );
}
both!(references_must_exist, references_must_exist);
