//! The OpenID Connect provider, as a relying party meets it: discovery, the code flow with PKCE,
//! the ID token checked against the JWKS (with `jsonwebtoken`), userinfo, refresh with rotation,
//! the negative cases (redirect URI, client secret, replayed and expired codes, PKCE), access
//! lost to the access sweep, key rotation and ES256.

use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both;
use crate::helpers::TestApp;
use crate::login::{Cookies, FRIEND, MEMBER, OWNER};

pub const CALLBACK: &str = "https://rp.example.com/callback";
const VERIFIER: &str = "plexid-test-verifier-0123456789-abcdefghijklmnop";
const CHALLENGE: &str = "iP6RnwH7rcUcaV_xbsVTkyJDS_BtixifuC96kDzqS7o";

/// A relying party registered with plexid.
pub struct Rp {
    pub client_id: String,
    pub secret: String,
    pub slug: String,
}

impl TestApp {
    /// A source, the Plex accounts, and an application `slug` with an OIDC provider admitting
    /// friends and server members.
    pub async fn relying_party(&self, slug: &str, extra: Value) -> Rp {
        let mut provider_fields = json!({"redirect_uris": CALLBACK});
        for (k, v) in extra.as_object().unwrap() {
            provider_fields[k] = v.clone();
        }
        let provider = self.oauth2_provider(&format!("OIDC {slug}"), provider_fields).await;
        self.application(slug, &provider["pk"], json!({"access_relationships": ["friend", "server_member"]})).await;
        Rp {
            client_id: provider["client_id"].as_str().unwrap().into(),
            secret: provider["client_secret"].as_str().unwrap().into(),
            slug: slug.into(),
        }
    }

    /// The authorization step as the signed-in browser: returns the redirect's location.
    pub async fn authorize(&self, cookies: &mut Cookies, rp: &Rp, extra: &str) -> (StatusCode, String) {
        let path = format!(
            "/application/o/authorize/?response_type=code&client_id={}&redirect_uri={}&scope=openid+profile+email&state=st8&nonce=n0nce{extra}",
            rp.client_id,
            urlencode(CALLBACK),
        );
        let answer = self.browser(cookies, Method::GET, &path, None, false).await;
        let location = answer.headers.get("location").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        (answer.status, location)
    }

    /// A form POST to an OAuth2 endpoint, with HTTP basic client authentication if given.
    pub async fn oauth_post(
        &self,
        path: &str,
        basic: Option<(&str, &str)>,
        form: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut request = reqwest::Client::new().post(format!("{}{path}", self.base)).form(form);
        if let Some((id, secret)) = basic {
            request = request.basic_auth(id, Some(secret));
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

pub fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The value of a query parameter of a URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    parsed.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

pub async fn code_for(app: &TestApp, cookies: &mut Cookies, rp: &Rp) -> String {
    let pkce = format!("&code_challenge={CHALLENGE}&code_challenge_method=S256");
    let (status, location) = app.authorize(cookies, rp, &pkce).await;
    assert!(status.is_redirection(), "{status} {location}");
    assert!(location.starts_with(CALLBACK), "{location}");
    assert_eq!(query_param(&location, "state").as_deref(), Some("st8"));
    query_param(&location, "code").expect("a code")
}

pub async fn exchange(app: &TestApp, rp: &Rp, code: &str) -> (StatusCode, Value) {
    app.oauth_post(
        "/application/o/token/",
        Some((&rp.client_id, &rp.secret)),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", VERIFIER),
        ],
    )
    .await
}

/// Verifies an ID token with the provider's JWKS and discovery document, as a relying party.
pub async fn verify_id_token(app: &TestApp, rp: &Rp, id_token: &str) -> Value {
    let (_, discovery) = app.get(&format!("/application/o/{}/.well-known/openid-configuration", rp.slug)).await;
    let (status, jwks) = app.get(&format!("/application/o/{}/jwks/", rp.slug)).await;
    assert_eq!(status, 200);
    let jwks: JwkSet = serde_json::from_value(jwks).unwrap();
    let header = jsonwebtoken::decode_header(id_token).unwrap();
    let jwk = jwks.find(header.kid.as_deref().unwrap()).expect("the signing key is published");
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[&rp.client_id]);
    validation.set_issuer(&[discovery["issuer"].as_str().unwrap()]);
    jsonwebtoken::decode::<Value>(id_token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .expect("a valid ID token")
        .claims
}

async fn code_flow(app: &TestApp) {
    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    let rp = app.relying_party("rp", json!({})).await;

    // Discovery (authentik's keys, sample 35) names plexid's endpoints and algorithm.
    let (status, discovery) = app.get("/application/o/rp/.well-known/openid-configuration").await;
    assert_eq!(status, 200);
    for key in crate::helpers::sample("35-oidc-discovery").as_object().unwrap().keys() {
        if key != "device_authorization_endpoint" {
            assert!(discovery.get(key).is_some(), "discovery lacks {key}");
        }
    }
    assert_eq!(discovery["id_token_signing_alg_values_supported"], json!(["RS256"]));
    assert!(discovery["issuer"].as_str().unwrap().ends_with("/application/o/rp/"));

    // Not signed in: off to the login page, coming back to the same request afterwards.
    let mut cookies = Cookies::default();
    let (status, location) = app.authorize(&mut cookies, &rp, "").await;
    assert!(status.is_redirection());
    assert!(
        location.starts_with("/if/flow/default-source-authentication/?next=%2Fapplication%2Fo%2Fauthorize%2F"),
        "{location}"
    );

    // Signed in as a friend: a code, exchanged once for tokens.
    let mut cookies = app.sign_in("plex", FRIEND).await;
    let code = code_for(app, &mut cookies, &rp).await;
    let (status, tokens) = exchange(app, &rp, &code).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    let claims = verify_id_token(app, &rp, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["nonce"], "n0nce");
    assert_eq!(claims["preferred_username"], "friend");
    assert_eq!(claims["plex_id"], FRIEND.to_string());
    assert_eq!(claims["plex_relationship"], json!(["friend"]));
    assert_eq!(claims["sub"].as_str().unwrap().len(), 64, "a hashed, per-provider subject");

    // userinfo with the access token.
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let userinfo = |token: String| async move {
        let response = reqwest::Client::new()
            .get(format!("{}/application/o/userinfo/", app.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json::<Value>().await.unwrap_or(Value::Null))
    };
    let (status, info) = userinfo(access.clone()).await;
    assert_eq!((status, &info["sub"]), (StatusCode::OK, &claims["sub"]));
    assert!(info.get("email").is_some() && info["preferred_username"] == "friend", "{info}");

    // Introspection by the client, refused to anyone else.
    let (status, intro) =
        app.oauth_post("/application/o/introspect/", Some((&rp.client_id, &rp.secret)), &[("token", &access)]).await;
    assert_eq!((status, &intro["active"], &intro["username"]), (StatusCode::OK, &json!(true), &json!("friend")));
    let (status, _) =
        app.oauth_post("/application/o/introspect/", Some((&rp.client_id, "wrong")), &[("token", &access)]).await;
    assert_eq!(status, 401, "RFC 7662 §2.3");

    // Refresh: new tokens; the old refresh token is spent.
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let refresh_with = |token: String| {
        let rp = &rp;
        async move {
            app.oauth_post(
                "/application/o/token/",
                None,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &token),
                    ("client_id", &rp.client_id),
                    ("client_secret", &rp.secret),
                ],
            )
            .await
        }
    };
    let (status, refreshed) = refresh_with(refresh.clone()).await;
    assert_eq!(status, 200, "{refreshed}");
    assert_ne!(refreshed["refresh_token"], tokens["refresh_token"]);
    verify_id_token(app, &rp, refreshed["id_token"].as_str().unwrap()).await;
    let (status, error) = refresh_with(refresh).await;
    assert_eq!((status.as_u16(), &error["error"]), (400, &json!("invalid_grant")));

    // A replayed code is refused and revokes everything it issued.
    let (status, error) = exchange(app, &rp, &code).await;
    assert_eq!((status.as_u16(), &error["error"]), (400, &json!("invalid_grant")));
    assert_eq!(userinfo(access).await.0, 401);
    assert_eq!(userinfo(refreshed["access_token"].as_str().unwrap().to_owned()).await.0, 401);
    let (status, _) = refresh_with(refreshed["refresh_token"].as_str().unwrap().to_owned()).await;
    assert_eq!(status, 400);

    // Revocation (RFC 7009).
    let code = code_for(app, &mut cookies, &rp).await;
    let (_, tokens) = exchange(app, &rp, &code).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let (status, _) =
        app.oauth_post("/application/o/revoke/", Some((&rp.client_id, &rp.secret)), &[("token", &access)]).await;
    assert_eq!(status, 200);
    assert_eq!(userinfo(access).await.0, 401);

    // authorize_application is in the audit log.
    assert!(app.count("/api/v3/events/events/?action=authorize_application").await >= 2);

    // End session with the ID token plexid issued as the hint: an unregistered return address
    // goes to the application's "signed out" page (authentik's session-end page); a registered
    // one is followed (with the state); either way the plexid session is over. (Without a valid hint plexid asks first: security.rs, F8.)
    let hint = urlencode(tokens["id_token"].as_str().unwrap());
    let path = format!(
        "/application/o/rp/end-session/?id_token_hint={hint}&post_logout_redirect_uri={}",
        urlencode("https://evil.example.net/")
    );
    let answer = app.browser(&mut cookies.clone(), Method::GET, &path, None, false).await;
    assert_eq!(answer.headers.get("location").unwrap(), "/if/session-end/rp/");
    let path = format!(
        "/application/o/rp/end-session/?id_token_hint={hint}&post_logout_redirect_uri={}&state=bye",
        urlencode(CALLBACK)
    );
    let answer = app.browser(&mut cookies, Method::GET, &path, None, false).await;
    assert_eq!(answer.headers.get("location").unwrap().to_str().unwrap(), format!("{CALLBACK}?state=bye"));
    assert!(app.me(&mut cookies).await.is_none(), "signed out of plexid");
}
both!(code_flow_case, code_flow);

async fn refusals(app: &TestApp) {
    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    let rp = app.relying_party("rp", json!({})).await;
    let mut friend = app.sign_in("plex", FRIEND).await;

    // An unregistered redirect URI or unknown client: plexid's own error page, no redirect.
    let path = format!(
        "/application/o/authorize/?response_type=code&client_id={}&redirect_uri={}&scope=openid",
        rp.client_id,
        urlencode("https://evil.example.net/cb")
    );
    let answer = app.browser(&mut friend, Method::GET, &path, None, false).await;
    assert_eq!(answer.status, 400);
    assert!(answer.headers.get("location").is_none());
    let answer = app
        .browser(
            &mut friend,
            Method::GET,
            "/application/o/authorize/?response_type=code&client_id=nope&redirect_uri=x",
            None,
            false,
        )
        .await;
    assert_eq!(answer.status, 400);

    // Other response types and bad PKCE methods go back to the client as errors.
    let (_, location) = app.authorize(&mut friend, &rp, "&response_type=token").await;
    assert_eq!(query_param(&location, "error").as_deref(), Some("unsupported_response_type"), "{location}");
    let (_, location) = app.authorize(&mut friend, &rp, "&code_challenge=abc&code_challenge_method=plain").await;
    assert_eq!(query_param(&location, "error").as_deref(), Some("invalid_request"));

    // Client authentication (authentik's exact answer, sample 39).
    let code = code_for(app, &mut friend, &rp).await;
    let (status, error) = app
        .oauth_post(
            "/application/o/token/",
            Some((&rp.client_id, "wrong")),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    // Sample 39 (credentials in the form) is 400; with HTTP basic auth RFC 6749 §5.2 says 401.
    assert_eq!((status.as_u16(), error), (401, crate::helpers::sample("39-oauth2-token-invalid-client-400")));
    // The missing verifier, a wrong one, a wrong redirect URI: invalid_grant (and the code is spent).
    let (status, error) = app
        .oauth_post(
            "/application/o/token/",
            Some((&rp.client_id, &rp.secret)),
            &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", CALLBACK)],
        )
        .await;
    assert_eq!((status.as_u16(), &error["error"]), (400, &json!("invalid_grant")), "{error}");
    let code = code_for(app, &mut friend, &rp).await;
    let (_, error) = app
        .oauth_post(
            "/application/o/token/",
            Some((&rp.client_id, &rp.secret)),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "https://rp.example.com/other"),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(error["error"], "invalid_grant");
    let (_, error) =
        app.oauth_post("/application/o/token/", Some((&rp.client_id, &rp.secret)), &[("grant_type", "password")]).await;
    assert_eq!(error["error"], "unsupported_grant_type");

    // An expired code.
    let code = code_for(app, &mut friend, &rp).await;
    app.state.clock.advance(Duration::from_secs(61));
    let (_, error) = exchange(app, &rp, &code).await;
    assert_eq!(error["error"], "invalid_grant", "{error}");

    // Public clients must use PKCE; they authenticate by client id alone.
    let public = app.relying_party("public", json!({"client_type": "public"})).await;
    let mut friend = app.sign_in("plex", FRIEND).await;
    let (_, location) = app.authorize(&mut friend, &public, "").await;
    assert_eq!(query_param(&location, "error").as_deref(), Some("invalid_request"), "{location}");
    let code = code_for(app, &mut friend, &public).await;
    let (status, tokens) = app
        .oauth_post(
            "/application/o/token/",
            None,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
                ("code_verifier", VERIFIER),
                ("client_id", &public.client_id),
            ],
        )
        .await;
    assert_eq!(status, 200, "{tokens}");

    // Someone the application does not admit (friends only now; the owner is not a friend).
    let (status, _) = app.patch("/api/v3/core/applications/rp/", json!({"access_relationships": ["friend"]})).await;
    assert_eq!(status, 200);
    let mut owner = app.sign_in("plex", OWNER).await;
    let (status, _) = app.authorize(&mut owner, &rp, "").await;
    assert_eq!(status, 403);
}
both!(refusals_case, refusals, manual_clock);

async fn sweep_revokes(app: &TestApp) {
    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    let rp = app.relying_party("rp", json!({})).await;
    let mut friend = app.sign_in("plex", FRIEND).await;
    let mut member = app.sign_in("plex", MEMBER).await;
    let code = code_for(app, &mut friend, &rp).await;
    let (_, friend_tokens) = exchange(app, &rp, &code).await;
    let code = code_for(app, &mut member, &rp).await;
    let (_, member_tokens) = exchange(app, &rp, &code).await;

    // The owner unfriends the friend; the next sweep ends their access everywhere.
    app.plex.remove_friend(OWNER, FRIEND);
    app.plex.remove_friend(FRIEND, OWNER);
    let summary = plexid_server::jobs::access::sweep(&app.state).await.unwrap();
    assert_eq!(summary.revoked, 1, "{summary:?}");
    let refresh = |tokens: &Value| {
        let token = tokens["refresh_token"].as_str().unwrap().to_owned();
        let rp = &rp;
        async move {
            app.oauth_post(
                "/application/o/token/",
                Some((&rp.client_id, &rp.secret)),
                &[("grant_type", "refresh_token"), ("refresh_token", &token)],
            )
            .await
        }
    };
    let (status, error) = refresh(&friend_tokens).await;
    assert_eq!((status.as_u16(), &error["error"]), (400, &json!("invalid_grant")), "{error}");
    let (status, _) = refresh(&member_tokens).await;
    assert_eq!(status, 200, "the member keeps access");
}
both!(sweep_revokes_case, sweep_revokes);

async fn keys_rotate(app: &TestApp) {
    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    let rp = app.relying_party("rp", json!({})).await;
    let es = app.relying_party("es", json!({"id_token_signing_alg": "ES256"})).await;
    let mut friend = app.sign_in("plex", FRIEND).await;
    let code = code_for(app, &mut friend, &rp).await;
    let (_, before) = exchange(app, &rp, &code).await;
    let old_token = before["id_token"].as_str().unwrap().to_owned();
    let old_kid = jsonwebtoken::decode_header(&old_token).unwrap().kid.unwrap();

    // A rotation: new tokens get the new key; the old token still verifies (its key stays published).
    plexid_server::service::keys::rotate(&app.state, plexid_core::modes::SigningAlg::Rs256, true).await.unwrap();
    let code = code_for(app, &mut friend, &rp).await;
    let (_, after) = exchange(app, &rp, &code).await;
    let new_token = after["id_token"].as_str().unwrap();
    assert_ne!(jsonwebtoken::decode_header(new_token).unwrap().kid.unwrap(), old_kid);
    verify_id_token(app, &rp, new_token).await;
    verify_id_token(app, &rp, &old_token).await;

    // ES256 where the provider asks.
    let code = code_for(app, &mut friend, &es).await;
    let (_, tokens) = exchange(app, &es, &code).await;
    let id_token = tokens["id_token"].as_str().unwrap();
    assert_eq!(jsonwebtoken::decode_header(id_token).unwrap().alg, Algorithm::ES256);
    verify_id_token(app, &es, id_token).await;
    let (_, discovery) = app.get("/application/o/es/.well-known/openid-configuration").await;
    assert_eq!(discovery["id_token_signing_alg_values_supported"], json!(["ES256"]));
}
both!(keys_rotate_case, keys_rotate);
