//! `/api/v3/flows/instances/`.

use serde_json::json;

use crate::both;
use crate::helpers::TestApp;

async fn default_flows_and_crud(app: &TestApp) {
    let (_, listed) = app.get("/api/v3/flows/instances/").await;
    let slugs: Vec<&str> = listed["results"].as_array().unwrap().iter().map(|f| f["slug"].as_str().unwrap()).collect();
    assert_eq!(
        slugs,
        [
            "default-provider-authorization-implicit-consent",
            "default-source-authentication",
            "default-source-enrollment"
        ]
    );
    let (_, enrollment) = app.get("/api/v3/flows/instances/?designation=enrollment").await;
    assert_eq!(enrollment["pagination"]["count"], 1);
    assert_eq!(enrollment["results"][0]["slug"], "default-source-enrollment");
    let (status, body) = app.get("/api/v3/flows/instances/?designation=bogus").await;
    assert_eq!(
        (status.as_u16(), body),
        (400, json!({"designation": ["Select a valid choice. bogus is not one of the available choices."]}))
    );

    let (status, errors) =
        app.post("/api/v3/flows/instances/", json!({"slug": "bad slug", "designation": "nope"})).await;
    assert_eq!(status, 400);
    assert_eq!(
        errors.to_string(),
        json!({"name": ["This field is required."], "slug": ["Enter a valid \"slug\" consisting of letters, numbers, underscores or hyphens."],
               "title": ["This field is required."], "designation": ["\"nope\" is not a valid choice."]}).to_string()
    );
    let (status, flow) = app
        .post(
            "/api/v3/flows/instances/",
            json!({"name": "Login", "slug": "login", "title": "Sign in", "designation": "authentication"}),
        )
        .await;
    assert_eq!(status, 201, "{flow}");
    assert_eq!(flow["pk"], flow["policybindingmodel_ptr_id"]);
    assert_eq!(flow["export_url"], "/api/v3/flows/instances/login/export/");
    assert_eq!(flow["layout"], "stacked");
    let (status, dup) = app
        .post(
            "/api/v3/flows/instances/",
            json!({"name": "L", "slug": "login", "title": "t", "designation": "authentication"}),
        )
        .await;
    assert_eq!((status.as_u16(), dup), (400, json!({"slug": ["flow with this slug already exists."]})));
    let (status, patched) =
        app.patch("/api/v3/flows/instances/login/", json!({"title": "Welcome", "layout": "sidebar_left"})).await;
    assert_eq!(
        (status.as_u16(), patched["title"].clone(), patched["layout"].clone()),
        (200, json!("Welcome"), json!("sidebar_left"))
    );
    let (status, put) = app
        .put(
            "/api/v3/flows/instances/login/",
            json!({"name": "Login2", "slug": "login2", "title": "T", "designation": "enrollment"}),
        )
        .await;
    assert_eq!(
        (status.as_u16(), put["slug"].clone(), put["layout"].clone()),
        (200, json!("login2"), json!("sidebar_left"))
    );
    assert_eq!(app.get("/api/v3/flows/instances/login2/").await.1["designation"], "enrollment");

    // A source using the flow: used_by lists it; deleting the flow clears the reference.
    let (status, _) = app
        .post("/api/v3/sources/plex/", json!({"name": "P", "slug": "p", "plex_token": "t", "authentication_flow": put["pk"], "enrollment_flow": put["pk"]}))
        .await;
    assert_eq!(status, 201);
    let (_, used) = app.get("/api/v3/flows/instances/login2/used_by/").await;
    assert_eq!(used[0]["model_name"], "plexsource");
    assert_eq!(used[0]["action"], "set_null");
    assert_eq!(app.delete("/api/v3/flows/instances/login2/").await.0, 204);
    assert_eq!(app.get("/api/v3/flows/instances/login2/").await.0, 404);
    let (_, source) = app.get("/api/v3/sources/plex/p/").await;
    assert_eq!((source["authentication_flow"].clone(), source["enrollment_flow"].clone()), (json!(null), json!(null)));
}
both!(default_flows_and_crud, default_flows_and_crud);
