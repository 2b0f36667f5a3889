//! Applications and providers through authentik's API paths: shapes, validation, the client
//! secret shown once, fields plexid does not implement, access rules and `check_access`.

use serde_json::{json, Value};

use crate::both;
use crate::helpers::{ordered_keys, sample, sample_text, TestApp};
use crate::login::{FRIEND, MEMBER, OWNER, SERVER_ID};

impl TestApp {
    /// The pk of a default flow.
    pub async fn flow_pk(&self, slug: &str) -> Value {
        let (status, flow) = self.get(&format!("/api/v3/flows/instances/{slug}/")).await;
        assert_eq!(status, 200, "{flow}");
        flow["pk"].clone()
    }

    /// An OpenID Connect provider with `extra` fields; returns its answer (with the secret).
    pub async fn oauth2_provider(&self, name: &str, extra: Value) -> Value {
        let mut body = json!({
            "name": name,
            "authorization_flow": self.flow_pk("default-provider-authorization-implicit-consent").await,
            "redirect_uris": "https://app.example.com/oauth/callback",
        });
        for (key, value) in extra.as_object().unwrap() {
            body[key] = value.clone();
        }
        let (status, provider) = self.post("/api/v3/providers/oauth2/", body).await;
        assert_eq!(status, 201, "{provider}");
        provider
    }

    /// An application `slug` for the provider `pk` with `extra` fields.
    pub async fn application(&self, slug: &str, provider: &Value, extra: Value) -> Value {
        let mut body = json!({"name": format!("App {slug}"), "slug": slug, "provider": provider});
        for (key, value) in extra.as_object().unwrap() {
            body[key] = value.clone();
        }
        let (status, app) = self.post("/api/v3/core/applications/", body).await;
        assert_eq!(status, 201, "{app}");
        app
    }
}

fn keys(value: &Value) -> Vec<String> {
    value.as_object().unwrap().keys().cloned().collect()
}

async fn providers_and_applications(app: &TestApp) {
    // authentik's answers name these fields (samples 27, 29, 30); plexid answers each of them.
    let provider = app.oauth2_provider("Sample OIDC", json!({"client_type": "confidential"})).await;
    for key in keys(&sample("27-oauth2-provider-create-201")) {
        assert!(provider.get(&key).is_some(), "oauth2 provider lacks {key}: {provider}");
    }
    assert_eq!(provider["assigned_application_slug"], "", "the schema's string, not authentik's null");
    assert_eq!(provider["assigned_backchannel_application_slug"], "");
    assert_eq!(provider["client_secret"].as_str().unwrap().len(), 128, "a new secret is shown once, in full");
    assert_eq!(provider["id_token_signing_alg"], "RS256");
    assert_eq!(provider["access_code_validity"], "minutes=1");
    let pk = provider["pk"].as_i64().unwrap();

    // Fields come in authentik's order (plexid's additions at the end).
    let raw = app.raw(reqwest::Method::GET, &format!("/api/v3/providers/oauth2/{}/", provider["pk"]), None).await;
    let mut expected = ordered_keys(&sample_text("33-oauth2-provider-retrieve-with-app"));
    expected.retain(|k| !k.starts_with("assigned_"));
    let mut served = ordered_keys(&raw);
    served.retain(|k| !k.starts_with("assigned_") && k != "id_token_signing_alg");
    assert_eq!(served, expected);

    // Later reads mask the secret; writing the mask back keeps it; a new one is shown once.
    let (_, read) = app.get(&format!("/api/v3/providers/oauth2/{pk}/")).await;
    let masked = read["client_secret"].as_str().unwrap().to_owned();
    assert!(masked.starts_with("********") && masked.len() == 12, "{masked}");
    let (status, same) = app.patch(&format!("/api/v3/providers/oauth2/{pk}/"), json!({"client_secret": masked})).await;
    assert_eq!((status, same["client_secret"].as_str()), (reqwest::StatusCode::OK, Some(masked.as_str())));
    let (_, changed) =
        app.patch(&format!("/api/v3/providers/oauth2/{pk}/"), json!({"client_secret": "a-new-secret"})).await;
    assert_eq!(changed["client_secret"], "a-new-secret");

    // authentik's 400 for an empty body (sample 28), then plexid's checks.
    let (status, errors) = app.post("/api/v3/providers/oauth2/", json!({})).await;
    assert_eq!((status.as_u16(), errors), (400, sample("28-oauth2-provider-create-missing-fields-400")));
    let flow = app.flow_pk("default-provider-authorization-implicit-consent").await;
    let (status, errors) = app
        .post(
            "/api/v3/providers/oauth2/",
            json!({"name": "x", "authorization_flow": flow, "access_token_validity": "soon",
                   "redirect_uris": "/relative", "signing_key": "8d6a7e8b-2d0e-4c1b-9a4f-0c8d1c1e2f3a",
                   "property_mappings": ["8d6a7e8b-2d0e-4c1b-9a4f-0c8d1c1e2f3a"], "client_type": "nope"}),
        )
        .await;
    assert_eq!(status, 400);
    for field in ["access_token_validity", "redirect_uris", "signing_key", "property_mappings", "client_type"] {
        assert!(errors.get(field).is_some(), "{field}: {errors}");
    }
    assert_eq!(errors["access_token_validity"][0], "soon is not in the correct format of 'hours=3;minutes=1'.");
    let login_flow = app.flow_pk("default-source-authentication").await;
    let (status, errors) =
        app.post("/api/v3/providers/oauth2/", json!({"name": "x", "authorization_flow": login_flow})).await;
    assert_eq!(status, 400, "an authentication flow cannot authorize: {errors}");
    assert!(errors["authorization_flow"][0].as_str().unwrap().contains("does not exist"));
    assert_eq!(app.count("/api/v3/providers/oauth2/").await, 1, "refused writes wrote nothing");

    // An application with it (sample 30's fields, in its order), and the provider now names it.
    let application = app.application("sample", &json!(pk), json!({})).await;
    let raw = app.raw(reqwest::Method::GET, "/api/v3/core/applications/sample/", None).await;
    let mut served = ordered_keys(&raw);
    served.retain(|k| !k.starts_with("access_"));
    assert_eq!(served, ordered_keys(&sample_text("32-application-retrieve")));
    for key in keys(&sample("30-application-create-201")) {
        assert!(application.get(&key).is_some(), "application lacks {key}: {application}");
    }
    assert_eq!(application["provider_obj"]["assigned_application_slug"], "sample");
    assert_eq!(application["launch_url"], "https://app.example.com");
    assert_eq!(application["access_relationships"], json!([]));
    let (_, read) = app.get(&format!("/api/v3/providers/oauth2/{pk}/")).await;
    assert_eq!(
        (read["assigned_application_slug"].as_str(), read["assigned_application_name"].as_str()),
        (Some("sample"), Some("App sample"))
    );
    let (status, errors) = app.post("/api/v3/core/applications/", json!({"name": "x", "slug": "Not A Slug"})).await;
    assert_eq!((status.as_u16(), errors), (400, sample("31-application-create-bad-slug-400")));
    let (status, errors) = app.post("/api/v3/core/applications/", json!({"name": "x", "slug": "sample"})).await;
    assert_eq!((status.as_u16(), &errors["slug"][0]), (400, &json!("Application with this slug already exists.")));
    let (status, errors) =
        app.post("/api/v3/core/applications/", json!({"name": "x", "slug": "other", "provider": pk})).await;
    assert_eq!(
        (status.as_u16(), &errors["provider"][0]),
        (400, &json!("Application with this provider already exists."))
    );
    let (status, errors) = app
        .post(
            "/api/v3/core/applications/",
            json!({"name": "x", "slug": "other", "access_relationships": ["neighbour"], "backchannel_providers": [1]}),
        )
        .await;
    assert_eq!(status, 400);
    assert!(errors.get("access_relationships").is_some() && errors.get("backchannel_providers").is_some(), "{errors}");

    // Setup URLs (sample 34's keys).
    let (status, urls) = app.get(&format!("/api/v3/providers/oauth2/{pk}/setup_urls/")).await;
    assert_eq!(status, 200);
    assert_eq!(keys(&urls), keys(&sample("34-oauth2-provider-setup-urls")));
    assert!(urls["issuer"].as_str().unwrap().ends_with("/application/o/sample/"));

    // Forward-auth providers: only the two forward modes; domain mode needs a cookie domain.
    let (status, proxy) = app
        .post(
            "/api/v3/providers/proxy/",
            json!({"name": "FA", "authorization_flow": flow, "external_host": "https://app2.example.com/"}),
        )
        .await;
    assert_eq!(status, 201, "{proxy}");
    for key in keys(&sample("29-proxy-provider-create-201")) {
        assert!(proxy.get(&key).is_some(), "proxy provider lacks {key}: {proxy}");
    }
    assert_eq!(proxy["mode"], "forward_single");
    let raw = app.raw(reqwest::Method::GET, &format!("/api/v3/providers/proxy/{}/", proxy["pk"]), None).await;
    let mut expected = ordered_keys(&sample_text("37-proxy-provider-retrieve-with-app"));
    expected.retain(|k| !k.starts_with("assigned_"));
    let mut served = ordered_keys(&raw);
    served.retain(|k| !k.starts_with("assigned_"));
    assert_eq!(served, expected, "proxy provider fields in authentik's order");
    assert_eq!(proxy["external_host"], "https://app2.example.com");
    assert_eq!(
        proxy["redirect_uris"],
        "https://app2.example.com/outpost.goauthentik.io/callback?X-authentik-auth-callback=true"
    );
    let (status, errors) = app
        .post("/api/v3/providers/proxy/", json!({"name": "P", "authorization_flow": flow, "external_host": "https://x.example.com", "mode": "proxy", "internal_host": "http://backend:8080"}))
        .await;
    assert_eq!(status, 400);
    assert!(errors.get("mode").is_some() && errors.get("internal_host").is_some(), "{errors}");
    let (status, errors) = app
        .post("/api/v3/providers/proxy/", json!({"name": "D", "authorization_flow": flow, "external_host": "https://auth.example.com", "mode": "forward_domain"}))
        .await;
    assert_eq!((status.as_u16(), errors.get("cookie_domain").is_some()), (400, true), "{errors}");
    let (status, _) = app.get(&format!("/api/v3/providers/oauth2/{}/", proxy["pk"])).await;
    assert_eq!(status, 404, "a proxy provider is not an OAuth2 provider");

    // The flow's used_by names the providers it would delete.
    let (_, used) = app.get("/api/v3/flows/instances/default-provider-authorization-implicit-consent/used_by/").await;
    assert_eq!(used.as_array().unwrap().len(), 2, "{used}");
    assert!(used.as_array().unwrap().iter().all(|u| u["action"] == "cascade"));

    // Deleting the application leaves the provider unassigned.
    let (status, _) = app.delete("/api/v3/core/applications/sample/").await;
    assert_eq!(status, 204);
    let (_, read) = app.get(&format!("/api/v3/providers/oauth2/{pk}/")).await;
    assert_eq!(read["assigned_application_slug"], "");
    let (status, _) = app.delete(&format!("/api/v3/providers/oauth2/{pk}/")).await;
    assert_eq!(status, 204);
    assert_eq!(app.count("/api/v3/providers/oauth2/").await, 0);
}
both!(providers_and_applications_case, providers_and_applications);

async fn access_rules(app: &TestApp) {
    app.plex_accounts();
    app.plex.add_home_member(OWNER, MEMBER);
    app.plex_source("plex", json!({})).await;
    let friend = app.sign_in("plex", FRIEND).await;
    let member = app.sign_in("plex", MEMBER).await;
    let _owner = app.sign_in("plex", OWNER).await;
    let provider = app.oauth2_provider("Rules", json!({})).await;
    let application = app.application("rules", &provider["pk"], json!({"access_relationships": ["friend"]})).await;
    assert_eq!(application["access_relationships"], json!(["friend"]));
    let user_pk = |username: &'static str| async move {
        let (_, users) = app.get(&format!("/api/v3/core/users/?username={username}")).await;
        users["results"][0]["pk"].as_i64().unwrap()
    };
    let check = |user: i64| async move {
        let (status, result) = app.get(&format!("/api/v3/core/applications/rules/check_access/?for_user={user}")).await;
        assert_eq!(status, 200, "{result}");
        result["passing"].as_bool().unwrap()
    };
    let (friend_pk, member_pk, owner_pk) = (user_pk("friend").await, user_pk("member").await, user_pk("owner").await);
    assert!(check(friend_pk).await);
    assert!(!check(member_pk).await);
    assert!(!check(owner_pk).await);

    // Server members of the allowed server (PATCH keeps the other access fields).
    let (status, changed) = app
        .patch(
            "/api/v3/core/applications/rules/",
            json!({"access_relationships": ["server_member", "owner"], "access_servers": [SERVER_ID]}),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert!(check(member_pk).await && check(owner_pk).await && !check(friend_pk).await);

    // A group rule, and `all` needs both.
    let (_, group) = app.post("/api/v3/core/groups/", json!({"name": "family", "users": [friend_pk, member_pk]})).await;
    let (status, _) = app
        .patch("/api/v3/core/applications/rules/", json!({"access_groups": [group["pk"]], "policy_engine_mode": "all"}))
        .await;
    assert_eq!(status, 200);
    assert!(check(member_pk).await, "member: in the group and a server member");
    assert!(!check(friend_pk).await, "friend: in the group only");
    assert!(!check(owner_pk).await, "owner: not in the group");
    let (_, result) = app.get(&format!("/api/v3/core/applications/rules/check_access/?for_user={owner_pk}")).await;
    assert_eq!(result["messages"][0], "You are not in a group this application admits.");

    // Plex Home: the member is in the owner's Home (as plex.tv said at sign-in).
    let provider = app.oauth2_provider("Home", json!({})).await;
    app.application("home", &provider["pk"], json!({"access_relationships": ["home"]})).await;
    let (_, result) = app.get(&format!("/api/v3/core/applications/home/check_access/?for_user={member_pk}")).await;
    assert_eq!(result["passing"], true, "{result}");
    let (_, result) = app.get(&format!("/api/v3/core/applications/home/check_access/?for_user={friend_pk}")).await;
    assert_eq!(result["passing"], false);
    let mut member_browser = member.clone();
    let page = app.browser(&mut member_browser, reqwest::Method::GET, "/if/user/", None, false).await;
    assert!(page.body.as_str().unwrap().contains("Plex Home"), "the account page shows it");

    // A user without `view_application` sees the applications they may use.
    let mut member = member;
    let answer = app.browser(&mut member, reqwest::Method::GET, "/api/v3/core/applications/", None, false).await;
    assert_eq!(answer.body["pagination"]["count"], 2, "rules and home: {}", answer.body);
    let mut friend = friend;
    let answer = app.browser(&mut friend, reqwest::Method::GET, "/api/v3/core/applications/", None, false).await;
    assert_eq!(answer.body["pagination"]["count"], 0, "{}", answer.body);
    let answer = app.browser(&mut friend, reqwest::Method::GET, "/api/v3/core/applications/rules/", None, false).await;
    assert_eq!(answer.status, 404);
    let answer = app
        .browser(
            &mut friend,
            reqwest::Method::POST,
            "/api/v3/core/applications/",
            Some(json!({"name": "x", "slug": "x"})),
            true,
        )
        .await;
    assert_eq!(answer.status, 403);
}
both!(access_rules_case, access_rules);
