//! authentik 2024.6's answers where plexid used to differ (issue 22), held against the vendored
//! samples 41–50 and 35: provider names, list filters, `for_user`, pk references, the anonymous
//! user of events, and the wording and statuses of the `/application/o/` endpoints.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both;
use crate::helpers::{ordered_keys, sample, sample_text, TestApp};
use crate::login::{Cookies, FRIEND, STRANGER};
use crate::oidc::CALLBACK;

/// Provider names are unique across OAuth2 and proxy providers (sample 41).
async fn provider_names_are_unique_across_kinds(app: &TestApp) {
    let flow = app.flow_pk("default-provider-authorization-implicit-consent").await;
    let oauth2 = |name: &str| json!({"name": name, "authorization_flow": flow});
    let proxy =
        |name: &str| json!({"name": name, "authorization_flow": flow, "external_host": "https://x.example.com"});
    let duplicate = (StatusCode::BAD_REQUEST, sample("41-provider-create-duplicate-name-400"));
    assert_eq!(app.post("/api/v3/providers/oauth2/", oauth2("Same")).await.0, 201);
    assert_eq!(app.post("/api/v3/providers/oauth2/", oauth2("Same")).await, duplicate, "a second OAuth2 provider");
    assert_eq!(app.post("/api/v3/providers/proxy/", proxy("Same")).await, duplicate, "a proxy named like an OAuth2");
    let (status, first) = app.post("/api/v3/providers/proxy/", proxy("Gate")).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(app.post("/api/v3/providers/proxy/", proxy("Gate")).await, duplicate, "a second proxy provider");
    let path = format!("/api/v3/providers/proxy/{}/", first["pk"]);
    assert_eq!(app.patch(&path, json!({"name": "Same"})).await, duplicate, "renamed onto another kind's name");
    assert_eq!(app.get("/api/v3/providers/oauth2/?name=Same").await.1["pagination"]["count"], 1, "nothing written");
}
both!(provider_names_are_unique_across_kinds, provider_names_are_unique_across_kinds);

fn pks(page: &Value) -> Vec<Value> {
    page["results"].as_array().unwrap_or_else(|| panic!("{page}")).iter().map(|r| r["pk"].clone()).collect()
}

/// The list filters authentik's viewsets declare (sample 42 for a value outside a choice).
async fn list_filters(app: &TestApp) {
    let public = app.oauth2_provider("Public", json!({"client_type": "public", "sub_mode": "user_username"})).await;
    let confidential = app.oauth2_provider("Confidential", json!({"issuer_mode": "global"})).await;
    for (query, expected) in [
        ("client_type=public", vec![public["pk"].clone()]),
        ("client_type=confidential", vec![confidential["pk"].clone()]),
        ("sub_mode=user_username", vec![public["pk"].clone()]),
        ("sub_mode=user_email", vec![]),
        ("issuer_mode=global", vec![confidential["pk"].clone()]),
    ] {
        assert_eq!(pks(&app.get(&format!("/api/v3/providers/oauth2/?{query}")).await.1), expected, "{query}");
    }
    let (status, body) = app.get("/api/v3/providers/oauth2/?client_type=bogus").await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, sample("42-oauth2-provider-list-bad-client-type-400")));

    let single =
        app.forward_auth_app("single", json!({"external_host": "https://single.example.com"}), json!([])).await;
    let domain = app
        .forward_auth_app(
            "domain",
            json!({"external_host": "https://auth.example.com", "mode": "forward_domain", "cookie_domain": "example.com"}),
            json!([]),
        )
        .await;
    for (query, expected) in [
        ("mode__iexact=FORWARD_DOMAIN", vec![domain["pk"].clone()]),
        ("mode__iexact=forward_single", vec![single["pk"].clone()]),
        ("name__iexact=fa%20SINGLE", vec![single["pk"].clone()]),
        ("name__iexact=FA", vec![]),
        ("external_host__iexact=HTTPS://AUTH.example.com", vec![domain["pk"].clone()]),
    ] {
        assert_eq!(pks(&app.get(&format!("/api/v3/providers/proxy/?{query}")).await.1), expected, "{query}");
    }

    // Events: the authorization of an application names it in `context.authorized_application`
    // and `context.model`.
    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    let rp = app.relying_party("rp", json!({})).await;
    let mut cookies = app.sign_in("plex", FRIEND).await;
    let (status, _) = app.authorize(&mut cookies, &rp, "").await;
    assert!(status.is_redirection());
    let (_, application) = app.get("/api/v3/core/applications/rp/").await;
    let pk = application["pk"].as_str().unwrap();
    let count = |query: String| async move {
        app.get(&format!("/api/v3/events/events/?{query}")).await.1["pagination"]["count"].clone()
    };
    assert_eq!(count(format!("context_authorized_app={pk}")).await, 1);
    assert_eq!(count(format!("context_authorized_app={}", pk.replace('-', ""))).await, 1, "authentik's hex form");
    assert_eq!(count("context_authorized_app=00000000-0000-0000-0000-000000000000".into()).await, 0);
    assert_eq!(count("action=authorize_application&context_model_app=authentik_core".into()).await, 1);
    assert_eq!(count("context_model_app=authentik_flows".into()).await, 0);
    assert_eq!(count("action=authorize_application&context_model_name=application".into()).await, 1);
    assert_eq!(count("context_model_name=provider".into()).await, 0);
    assert_eq!(count("brand_name=Default%20brand".into()).await, 0, "plexid's events have no brand");
    assert!(count(String::new()).await.as_u64().unwrap() > 1);
}
both!(list_filters, list_filters);

/// `for_user` on the list and on `check_access`, with authentik's bodies (samples 43–46), and a
/// provider given as a string (sample 47).
async fn for_user_and_pk_references(app: &TestApp) {
    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    let provider = app.oauth2_provider("OIDC apps", json!({})).await;
    app.application("apps", &provider["pk"], json!({"access_relationships": ["friend"]})).await;
    app.sign_in("plex", FRIEND).await;
    let (_, friends) = app.get("/api/v3/core/users/?username=friend").await;
    let friend = friends["results"][0]["pk"].as_i64().unwrap();
    let (_, admins) = app.get("/api/v3/core/users/?username=akadmin").await;
    let admin = admins["results"][0]["pk"].as_i64().unwrap();

    let slugs = |page: Value| page["results"].as_array().unwrap().iter().map(|a| a["slug"].clone()).collect::<Vec<_>>();
    assert_eq!(slugs(app.get(&format!("/api/v3/core/applications/?for_user={friend}")).await.1), [json!("apps")]);
    assert!(slugs(app.get(&format!("/api/v3/core/applications/?for_user={admin}")).await.1).is_empty());
    for (path, expected) in [
        ("/api/v3/core/applications/?for_user=999999", "43-application-list-for-user-unknown-400"),
        ("/api/v3/core/applications/?for_user=abc", "44-application-list-for-user-not-a-number-400"),
        (
            "/api/v3/core/applications/apps/check_access/?for_user=999999",
            "45-application-check-access-for-user-unknown-400",
        ),
        (
            "/api/v3/core/applications/apps/check_access/?for_user=abc",
            "46-application-check-access-for-user-not-a-number-400",
        ),
    ] {
        assert_eq!(app.get(path).await, (StatusCode::BAD_REQUEST, sample(expected)), "{path}");
    }
    let (_, verdict) = app.get(&format!("/api/v3/core/applications/apps/check_access/?for_user={friend}")).await;
    assert_eq!(verdict["passing"], true);
    // Someone without view_user learns nothing about other users.
    let viewer = app.user_with_permissions("viewer", &["authentik_core.view_application"]).await;
    let (status, body) =
        app.send(Method::GET, &format!("/api/v3/core/applications/?for_user={friend}"), Some(&viewer), None).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, sample("43-application-list-for-user-unknown-400")));

    let (status, body) =
        app.post("/api/v3/core/applications/", json!({"name": "x", "slug": "x", "provider": "abc"})).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, sample("47-application-create-provider-str-400")));
    let (status, body) = app
        .post("/api/v3/core/applications/", json!({"name": "x", "slug": "x", "provider": provider["pk"].to_string()}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a numeric string names the provider, already in use: {body}");
    assert_eq!(body, json!({"provider": ["Application with this provider already exists."]}));
}
both!(for_user_and_pk_references, for_user_and_pk_references);

/// An event nobody signed in caused shows authentik's anonymous user (sample 48; plexid has no
/// anonymous user row, so its pk is 0); a validity of zero is accepted, as in authentik.
async fn anonymous_events_and_zero_validity(app: &TestApp) {
    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    let answer = app.redeem(&mut Cookies::default(), "plex", STRANGER).await;
    assert_eq!(answer.status, 403);
    let refused = app.events("action=login_failed").await;
    let mut expected = sample("48-event-without-user");
    expected["pk"] = json!(0);
    assert_eq!(refused[0]["user"], expected);
    let (status, one) = app.get(&format!("/api/v3/events/events/{}/", refused[0]["pk"].as_str().unwrap())).await;
    assert_eq!((status, &one["user"]), (StatusCode::OK, &expected));
    let by_name = app.events("username=AnonymousUser").await;
    assert!(by_name.iter().any(|e| e["pk"] == refused[0]["pk"]), "found by the anonymous user's name");
    assert!(by_name.iter().all(|e| e["user"] == expected), "only events without a user");

    let provider = app.oauth2_provider("Zero", json!({"access_token_validity": "seconds=0"})).await;
    assert_eq!(provider["access_token_validity"], "seconds=0");
    let flow = app.flow_pk("default-provider-authorization-implicit-consent").await;
    for bad in ["", "hours=-1", "soon"] {
        let (status, body) = app
            .post(
                "/api/v3/providers/oauth2/",
                json!({"name": "Bad", "authorization_flow": flow, "access_token_validity": bad}),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad:?}: {body}");
    }
}
both!(anonymous_events_and_zero_validity, anonymous_events_and_zero_validity);

/// The `/application/o/` endpoints: revocation and introspection refuse bad client credentials
/// with 401 (samples 49; RFC 6749 §5.2, RFC 7662 §2.3), the token endpoint with 401 when the
/// client used HTTP basic auth and 400 otherwise (sample 39), invalid grants in oauthlib's words
/// (sample 50); the authorization redirect is 302; discovery keeps authentik's key order and
/// advertises `amr`; `setup_urls` of a provider without an application answers.
async fn oauth_endpoints(app: &TestApp) {
    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    let rp = app.relying_party("rp", json!({})).await;
    let invalid_client = sample("49-oauth2-revoke-invalid-client-401");
    for path in ["/application/o/revoke/", "/application/o/introspect/"] {
        let (status, body) = app.oauth_post(path, None, &[("token", "anything")]).await;
        assert_eq!((status, &body), (StatusCode::UNAUTHORIZED, &invalid_client), "{path} without credentials");
        let (status, body) = app.oauth_post(path, Some((&rp.client_id, "wrong")), &[("token", "anything")]).await;
        assert_eq!((status, &body), (StatusCode::UNAUTHORIZED, &invalid_client), "{path} with a wrong secret");
    }
    let basic = reqwest::Client::new()
        .post(format!("{}/application/o/token/", app.base))
        .basic_auth(&rp.client_id, Some("wrong"))
        .form(&[("grant_type", "authorization_code"), ("code", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
    assert!(basic.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic"));
    let form = [
        ("grant_type", "authorization_code"),
        ("code", "nope"),
        ("client_id", rp.client_id.as_str()),
        ("client_secret", "wrong"),
        ("redirect_uri", CALLBACK),
    ];
    let (status, body) = app.oauth_post("/application/o/token/", None, &form).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, sample("39-oauth2-token-invalid-client-400")));
    let form = [
        ("grant_type", "authorization_code"),
        ("code", "nope"),
        ("client_id", rp.client_id.as_str()),
        ("client_secret", rp.secret.as_str()),
        ("redirect_uri", CALLBACK),
    ];
    let (status, body) = app.oauth_post("/application/o/token/", None, &form).await;
    assert_eq!((status, body), (StatusCode::BAD_REQUEST, sample("50-oauth2-token-invalid-grant-400")));

    let mut cookies = app.sign_in("plex", FRIEND).await;
    let (status, location) = app.authorize(&mut cookies, &rp, "").await;
    assert_eq!(status, StatusCode::FOUND, "{location}");
    let (status, location) = app.authorize(&mut Cookies::default(), &rp, "").await;
    assert_eq!(status, StatusCode::FOUND, "to the sign-in page too: {location}");

    let raw = app.raw(Method::GET, "/application/o/rp/.well-known/openid-configuration", None).await;
    let mut authentik_order = ordered_keys(&sample_text("35-oidc-discovery"));
    authentik_order.retain(|k| k != "device_authorization_endpoint");
    assert_eq!(ordered_keys(&raw), authentik_order);
    let discovery: Value = serde_json::from_str(&raw).unwrap();
    let claims = discovery["claims_supported"].as_array().unwrap();
    for claim in sample("35-oidc-discovery")["claims_supported"].as_array().unwrap() {
        assert!(claims.contains(claim), "{claim} not advertised");
    }

    // End session without a session: the application's "signed out" page, as authentik's.
    let answer = app.browser(&mut Cookies::default(), Method::GET, "/application/o/rp/end-session/", None, false).await;
    assert_eq!(answer.headers.get("location").map(|v| v.to_str().unwrap()), Some("/if/session-end/rp/"));
    let answer = app.browser(&mut Cookies::default(), Method::GET, "/if/session-end/rp/", None, false).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.body.as_str().unwrap().contains("You have signed out of App rp"), "{}", answer.body);
    let answer = app.browser(&mut Cookies::default(), Method::GET, "/if/session-end/nothing/", None, false).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);

    let lone = app.oauth2_provider("Lone", json!({})).await;
    let (status, urls) = app.get(&format!("/api/v3/providers/oauth2/{}/setup_urls/", lone["pk"])).await;
    assert_eq!(status, StatusCode::OK, "{urls}");
    assert_eq!(urls["issuer"], format!("{}/", app.base));
    assert_eq!((&urls["provider_info"], &urls["logout"], &urls["jwks"]), (&json!(""), &json!(""), &json!("")));
    assert_eq!(urls["token"], format!("{}/application/o/token/", app.base));
}
both!(oauth_endpoints, oauth_endpoints);
