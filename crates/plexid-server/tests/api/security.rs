//! The adversarial findings of issue 17, one regression test each (F1…F20), tried the way an
//! attacker would: client-set headers, a user holding one narrow permission, a second source,
//! a Plex account named like an administrator. Each test failed on the code before the fix.
//! docs/security.md maps the threat model to these tests.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::both;
use crate::forward_auth::proxied;
use crate::helpers::TestApp;
use crate::login::{Cookies, FRIEND, MEMBER, OWNER};

const CONNECTIONS: &str = "/api/v3/sources/user_connections/plex/";
const GROUP_CONNECTIONS: &str = "/api/v3/sources/group_connections/plex/";

impl TestApp {
    /// The pk of the user `username`.
    pub async fn user_pk(&self, username: &str) -> i64 {
        let (_, users) = self.get(&format!("/api/v3/core/users/?username={username}")).await;
        users["results"][0]["pk"].as_i64().unwrap_or_else(|| panic!("no user {username}: {users}"))
    }

    /// The pk of the group `name`.
    pub async fn group_pk(&self, name: &str) -> String {
        let (_, groups) = self.get(&format!("/api/v3/core/groups/?name={}", crate::oidc::urlencode(name))).await;
        groups["results"][0]["pk"].as_str().unwrap_or_else(|| panic!("no group {name}: {groups}")).to_owned()
    }

    /// Grants global permissions to the user `username` (as the bootstrap superuser).
    pub async fn grant(&self, username: &str, permissions: &[&str]) {
        let pk = self.user_pk(username).await;
        let path = format!("/api/v3/rbac/permissions/assigned_by_users/{pk}/assign/");
        let (status, body) = self.post(&path, json!({"permissions": permissions})).await;
        assert_eq!(status, 200, "{body}");
    }

    /// A cookie-authenticated API call with the CSRF token, as plexid's own pages make it.
    pub async fn as_browser(
        &self,
        cookies: &mut Cookies,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let answer = self.browser(cookies, method, path, body, true).await;
        (answer.status, answer.body)
    }
}

// ------------------------------------------------------------------------------------------
// F1: the proxy, not the client, says which application a forward-auth request is for.

async fn f1_a_cookie_for_one_app_never_admits_to_another(app: &TestApp) {
    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    // A admits every signed-in user; B only the owner.
    let a = app.forward_auth_app("open", json!({"external_host": "http://open.test"}), json!([])).await;
    app.forward_auth_app("secret", json!({"external_host": "http://secret.test"}), json!(["owner"])).await;
    let mut friend = app.sign_in("plex", FRIEND).await;
    let (_, _, cookies) = app.forward_sign_in(&mut friend, "open.test", "/").await;
    let cookie_a = format!("authentik_proxy_{}", a["pk"]);
    assert!(cookies.get(&cookie_a).is_some(), "the friend has A's cookie");

    // The friend uses A legitimately (control).
    let (status, headers) = proxied(
        app,
        "x",
        "/outpost.goauthentik.io/auth/traefik",
        &cookies,
        &[("X-Forwarded-Host", "open.test"), ("X-Forwarded-Proto", "http"), ("X-Forwarded-Uri", "/")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(headers["x-authentik-meta-app"], "open");

    // Traefik and Caddy: B's address from the proxy, A's in a client-set X-Original-URL.
    for endpoint in ["traefik", "caddy"] {
        let (status, headers) = proxied(
            app,
            "secret.test",
            &format!("/outpost.goauthentik.io/auth/{endpoint}"),
            &cookies,
            &[
                ("X-Forwarded-Host", "secret.test"),
                ("X-Forwarded-Proto", "http"),
                ("X-Forwarded-Uri", "/admin"),
                ("X-Original-URL", "http://open.test/"),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{endpoint}: sent to sign in to B, not admitted");
        assert!(headers.get("x-authentik-username").is_none(), "{endpoint}");
        assert!(headers["location"].to_str().unwrap().starts_with("http://secret.test/outpost.goauthentik.io/start"));
    }

    // nginx: B's server block is the default server, the request names A's host. The snippet
    // fixes B's own address in X-Original-URL; the Host naming another application is refused.
    let (status, headers) = proxied(
        app,
        "open.test",
        "/outpost.goauthentik.io/auth/nginx",
        &cookies,
        &[("X-Original-URL", "http://secret.test/admin")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(headers.get("x-authentik-username").is_none());
    // Even without the Host (a proxy that sends plexid's own), A's cookie is not B's.
    let (status, _) = proxied(
        app,
        "plexid.internal",
        "/outpost.goauthentik.io/auth/nginx",
        &cookies,
        &[("X-Original-URL", "http://secret.test/admin")],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A's cookie value under B's cookie name is someone else's session: refused.
    let b_cookie = Cookies(
        [(format!("authentik_proxy_{}", a["pk"].as_i64().unwrap() + 1), cookies.get(&cookie_a).unwrap().to_owned())]
            .into(),
    );
    let (status, _) = proxied(
        app,
        "secret.test",
        "/outpost.goauthentik.io/auth/nginx",
        &b_cookie,
        &[("X-Original-URL", "http://secret.test/admin")],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // And nginx's request for A itself still passes (control).
    let (status, _) = proxied(
        app,
        "open.test",
        "/outpost.goauthentik.io/auth/nginx",
        &cookies,
        &[("X-Original-URL", "http://open.test/")],
    )
    .await;
    assert_eq!(status, 200);
}
both!(f1_a_cookie_for_one_app_never_admits_to_another, f1_a_cookie_for_one_app_never_admits_to_another);

// ------------------------------------------------------------------------------------------
// F2: a narrow permission on connections never signs anyone in as someone else.

async fn f2_connection_permissions_cannot_reach_a_superuser(app: &TestApp) {
    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    let mut friend = app.sign_in("plex", FRIEND).await;
    app.grant("friend", &["authentik_sources_plex.add_userplexsourceconnection"]).await;
    let admin = app.user_pk("akadmin").await;

    // The friend drops their own connection (allowed: it is theirs) and points one at akadmin.
    let (_, mine) = app.as_browser(&mut friend, Method::GET, CONNECTIONS, None).await;
    let own = mine["results"][0]["pk"].clone();
    let (status, _) = app.as_browser(&mut friend, Method::DELETE, &format!("{CONNECTIONS}{own}/"), None).await;
    assert_eq!(status, 204);
    let hijack = json!({"user": admin, "source": "plex", "identifier": FRIEND.to_string(), "plex_token": "x"});
    let (status, body) = app.as_browser(&mut friend, Method::POST, CONNECTIONS, Some(hijack.clone())).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(app.count(&format!("{CONNECTIONS}?user={admin}")).await, 0, "nothing was written");
    // Signing in with Plex again does not make the friend akadmin (their own account lost its
    // connection, so plexid asks for a username for a new one).
    let mut again = Cookies::default();
    let a = app.redeem(&mut again, "plex", FRIEND).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(again.get("plexid_session").is_none(), "no session: {}", a.body);
    assert!(a.body["to"].as_str().unwrap().starts_with("/if/flow/default-source-enrollment/"), "{}", a.body);

    // view + change on connections: re-pointing akadmin's connection is refused.
    let (status, theirs) = app
        .post(CONNECTIONS, json!({"user": admin, "source": "plex", "identifier": "424242", "plex_token": "t"}))
        .await;
    assert_eq!(status, 201, "a superuser may connect akadmin: {theirs}");
    let mallory = app
        .user_with_permissions(
            "mallory",
            &[
                "authentik_sources_plex.view_userplexsourceconnection",
                "authentik_sources_plex.change_userplexsourceconnection",
            ],
        )
        .await;
    let path = format!("{CONNECTIONS}{}/", theirs["pk"]);
    let body = json!({"identifier": MEMBER.to_string()}).to_string();
    let (status, _) = app.send(Method::PATCH, &path, Some(&mallory), Some(&body)).await;
    assert_eq!(status, 403);
    let (status, _) = app.send(Method::DELETE, &path, Some(&mallory), None).await;
    assert_eq!(status, 403, "nor deleted (which would lock akadmin out of Plex sign-in)");
    assert_eq!(app.get(&path).await.1["identifier"], "424242");

    // The rights to edit a user reach ordinary users, not superusers.
    let editor = app
        .user_with_permissions(
            "editor",
            &[
                "authentik_sources_plex.add_userplexsourceconnection",
                "authentik_sources_plex.view_userplexsourceconnection",
                "authentik_sources_plex.change_userplexsourceconnection",
                "authentik_core.change_user",
            ],
        )
        .await;
    let member_pk = app.user_pk("mallory").await;
    let body = json!({"user": member_pk, "source": "plex", "identifier": "515151", "plex_token": "t"}).to_string();
    assert_eq!(app.send(Method::POST, CONNECTIONS, Some(&editor), Some(&body)).await.0, 201);
    let body = json!({"identifier": "525252"}).to_string();
    assert_eq!(app.send(Method::PATCH, &path, Some(&editor), Some(&body)).await.0, 403, "akadmin's: superusers only");
}
both!(f2_connection_permissions_cannot_reach_a_superuser, f2_connection_permissions_cannot_reach_a_superuser);

// ------------------------------------------------------------------------------------------
// F3: group connections and group sync never reach a superuser group without a superuser.

async fn f3_group_connections_cannot_reach_admin_groups(app: &TestApp) {
    app.plex_accounts();
    let mapping = json!({"name": "groups", "expression": "return {\"groups\": [\"plex-\" + info[\"username\"]]}"});
    let (_, mapping) = app.post("/api/v3/propertymappings/source/plex/", mapping).await;
    app.plex_source("plex", json!({"user_property_mappings": [mapping["pk"]]})).await;
    app.sign_in("plex", MEMBER).await; // a real administrator's sign-in through the source, later
    let admins = app.group_pk("authentik Admins").await;
    let key = app
        .user_with_permissions(
            "mallory",
            &[
                "authentik_sources_plex.view_groupplexsourceconnection",
                "authentik_sources_plex.add_groupplexsourceconnection",
                "authentik_sources_plex.delete_groupplexsourceconnection",
                "authentik_sources_plex.change_groupplexsourceconnection",
            ],
        )
        .await;
    // Re-point the friend's mapped group identifier at authentik Admins: refused.
    let body = json!({"group": admins, "source": "plex", "identifier": "plex-friend"}).to_string();
    let (status, answer) = app.send(Method::POST, GROUP_CONNECTIONS, Some(&key), Some(&body)).await;
    assert_eq!(status, 403, "{answer}");
    // Nor may an existing connection of an ordinary group be re-pointed or deleted without
    // the rights to change that group.
    let (_, list) = app.get(GROUP_CONNECTIONS).await;
    let member_group = list["results"][0]["pk"].clone();
    let path = format!("{GROUP_CONNECTIONS}{member_group}/");
    let body = json!({"identifier": "plex-friend"}).to_string();
    assert_eq!(app.send(Method::PATCH, &path, Some(&key), Some(&body)).await.0, 403);
    assert_eq!(app.send(Method::DELETE, &path, Some(&key), None).await.0, 403);
    let mut friend = app.sign_in("plex", FRIEND).await;
    let me = app.me(&mut friend).await.unwrap();
    assert_eq!(me["is_superuser"], false);
    let (_, group) = app.get(&format!("/api/v3/core/groups/{admins}/")).await;
    assert_eq!(group["name"], "authentik Admins", "not renamed by a sign-in");

    // With the rights to change ordinary groups, ordinary groups can be connected.
    let editor = app
        .user_with_permissions(
            "editor",
            &["authentik_sources_plex.add_groupplexsourceconnection", "authentik_core.change_group"],
        )
        .await;
    let (_, viewers) = app.post("/api/v3/core/groups/", json!({"name": "viewers"})).await;
    let body = json!({"group": viewers["pk"], "source": "plex", "identifier": "viewers"}).to_string();
    assert_eq!(app.send(Method::POST, GROUP_CONNECTIONS, Some(&editor), Some(&body)).await.0, 201);
    let body = json!({"group": admins, "source": "plex", "identifier": "admins"}).to_string();
    assert_eq!(app.send(Method::POST, GROUP_CONNECTIONS, Some(&editor), Some(&body)).await.0, 403);
}
both!(f3_group_connections_cannot_reach_admin_groups, f3_group_connections_cannot_reach_admin_groups);

/// A mapping that names a superuser group never links to it by name (name_link).
async fn f3_group_sync_never_links_a_superuser_group_by_name(app: &TestApp) {
    app.plex_accounts();
    let mapping = json!({"name": "groups", "expression": "return {\"groups\": [\"authentik Admins\"]}"});
    let (_, mapping) = app.post("/api/v3/propertymappings/source/plex/", mapping).await;
    app.plex_source("plex", json!({"user_property_mappings": [mapping["pk"]], "group_matching_mode": "name_link"}))
        .await;
    let a = app.redeem(&mut Cookies::default(), "plex", FRIEND).await;
    assert_eq!((a.status, a.body["code"].clone()), (StatusCode::FORBIDDEN, json!("group_denied")), "{}", a.body);
    assert_eq!(app.count(GROUP_CONNECTIONS).await, 0);
    // A superuser may connect it deliberately; then the sign-in joins it.
    let admins = app.group_pk("authentik Admins").await;
    let (status, _) =
        app.post(GROUP_CONNECTIONS, json!({"group": admins, "source": "plex", "identifier": "authentik Admins"})).await;
    assert_eq!(status, 201);
    let mut friend = app.sign_in("plex", FRIEND).await;
    assert_eq!(app.me(&mut friend).await.unwrap()["is_superuser"], true);
}
both!(f3_group_sync_never_links_a_superuser_group_by_name, f3_group_sync_never_links_a_superuser_group_by_name);

// ------------------------------------------------------------------------------------------
// F10: link modes never link a Plex account to a superuser.

async fn f10_a_plex_account_named_akadmin_is_not_akadmin(app: &TestApp) {
    app.plex_accounts();
    app.plex.add_account(fake_plex::Account::new(2001, "akadmin"));
    app.plex.add_friend(OWNER, 2001);
    app.sql("UPDATE app_user SET email = 'root@example.com' WHERE username = 'akadmin'").await;
    let mut mail = fake_plex::Account::new(2002, "someone");
    mail.email = "ROOT@example.com".into();
    app.plex.add_account(mail);
    app.plex.add_friend(OWNER, 2002);
    for (mode, who) in [("username_link", 2001), ("email_link", 2002)] {
        app.sql("DELETE FROM plex_source").await;
        app.plex_source("plex", json!({"user_matching_mode": mode})).await;
        let a = app.redeem(&mut Cookies::default(), "plex", who).await;
        assert_eq!(
            (a.status, a.body["code"].clone()),
            (StatusCode::FORBIDDEN, json!("match_superuser")),
            "{mode}: {}",
            a.body
        );
        assert!(a.body["detail"].as_str().unwrap().contains("administrator"));
    }
    assert_eq!(app.count(CONNECTIONS).await, 0, "nothing linked");
    let refusals = app.events("action=login_failed").await;
    assert!(refusals.iter().all(|e| e["context"]["reason"] == "match_superuser"));
}
both!(f10_a_plex_account_named_akadmin_is_not_akadmin, f10_a_plex_account_named_akadmin_is_not_akadmin);

// ------------------------------------------------------------------------------------------
// F12: client mistakes are 400s, not 500s.

async fn f12_a_second_plex_account_is_a_clear_400(app: &TestApp) {
    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    let mut member = app.sign_in("plex", MEMBER).await;
    let path = "/api/v3/sources/plex/redeem_token_authenticated/?slug=plex";
    let body = json!({"plex_token": app.plex.token_of(FRIEND).unwrap()});
    let (status, answer) = app.as_browser(&mut member, Method::POST, path, Some(body)).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["plex_token"][0].as_str().unwrap().contains("disconnect it first"), "{answer}");
    // Linked by email to a user who already has another Plex account: refused, not a 500.
    app.patch("/api/v3/sources/plex/plex/", json!({"user_matching_mode": "email_link"})).await;
    app.sql("UPDATE app_user SET email = 'friend@plex.test' WHERE username = 'member'").await;
    let mut friend_account = fake_plex::Account::new(FRIEND, "friend");
    friend_account.email = "friend@plex.test".into();
    app.plex.add_account(friend_account);
    let a = app.redeem(&mut Cookies::default(), "plex", FRIEND).await;
    assert_eq!((a.status, a.body["code"].clone()), (StatusCode::FORBIDDEN, json!("match_exists")), "{}", a.body);
}
both!(f12_a_second_plex_account_is_a_clear_400, f12_a_second_plex_account_is_a_clear_400);

// ------------------------------------------------------------------------------------------
// F4: relationships belong to a source; a second source grants nothing.

async fn f4_another_sources_owner_is_not_the_owner(app: &TestApp) {
    app.plex_accounts();
    let source = app.plex_source("plex", json!({})).await;
    // An owner-only application, made while "plex" is the only source: that source counts.
    let provider =
        app.forward_auth_app("vault", json!({"external_host": "http://vault.test"}), json!(["owner", "friend"])).await;
    let (_, vault) = app.get("/api/v3/core/applications/vault/").await;
    assert_eq!(vault["access_source"], source["pk"], "the only source is the one that counts");
    // Someone trusted with add_plexsource makes a source with their own Plex account and signs
    // in through it: they are the owner of *that* source.
    let key = app.user_with_permissions("mallory", &["authentik_sources_plex.add_plexsource"]).await;
    let flows = app.get("/api/v3/flows/instances/?ordering=slug").await.1;
    let flow =
        |slug: &str| flows["results"].as_array().unwrap().iter().find(|f| f["slug"] == slug).unwrap()["pk"].clone();
    let body = json!({"name": "Evil", "slug": "evil", "plex_token": app.plex.token_of(crate::login::STRANGER).unwrap(),
        "allowed_servers": ["srv-other"], "allow_friends": true,
        "authentication_flow": flow("default-source-authentication"), "enrollment_flow": flow("default-source-enrollment")});
    let (status, answer) = app.send(Method::POST, "/api/v3/sources/plex/", Some(&key), Some(&body.to_string())).await;
    assert_eq!(status, 201, "{answer}");
    let mut stranger = app.sign_in("evil", crate::login::STRANGER).await;
    let (status, _, _) = app.forward_sign_in(&mut stranger, "vault.test", "/").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the vault's owner rule is about the plex source");
    let stranger_pk = app.user_pk("stranger").await;
    let (_, verdict) = app.get(&format!("/api/v3/core/applications/vault/check_access/?for_user={stranger_pk}")).await;
    assert_eq!(verdict["passing"], false, "{verdict}");
    // The real owner still gets in, and is told only the vault's source's relationships.
    let mut owner = app.sign_in("plex", OWNER).await;
    let (_, _, cookies) = app.forward_sign_in(&mut owner, "vault.test", "/").await;
    let (status, headers) = proxied(
        app,
        "vault.test",
        "/outpost.goauthentik.io/auth/nginx",
        &cookies,
        &[("X-Original-URL", "http://vault.test/")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(headers["x-plexid-plex-relationship"], "owner,server_member", "through the vault's source only");
    let _ = provider;
    // An application without rules admits the stranger, but does not tell it "owner".
    app.forward_auth_app("open", json!({"external_host": "http://open.test"}), json!([])).await;
    let (_, _, cookies) = app.forward_sign_in(&mut stranger, "open.test", "/").await;
    let (status, headers) = proxied(
        app,
        "open.test",
        "/outpost.goauthentik.io/auth/nginx",
        &cookies,
        &[("X-Original-URL", "http://open.test/")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(headers["x-plexid-plex-relationship"], "", "no relationship through another source");

    // With two sources, relationship rules must name theirs.
    let (status, body) = app
        .post("/api/v3/core/applications/", json!({"name": "New", "slug": "new", "access_relationships": ["owner"]}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["access_source"][0].as_str().unwrap().split(':').next().unwrap(),
        "Choose the Plex source whose relationships count"
    );
    let (status, body) = app
        .post(
            "/api/v3/core/applications/",
            json!({"name": "New", "slug": "new", "access_relationships": ["owner"], "access_source": "evil"}),
        )
        .await;
    assert_eq!((status.as_u16(), body["access_source"].clone()), (201, answer["pk"].clone()), "named by slug");
    let (status, body) = app.patch("/api/v3/core/applications/new/", json!({"access_source": "nope"})).await;
    assert_eq!((status.as_u16(), body), (400, json!({"access_source": ["Object with slug=nope does not exist."]})));
    // Deleting the source leaves the rule admitting nobody rather than someone else.
    app.send(Method::DELETE, "/api/v3/sources/plex/evil/", Some(&app.token), None).await;
    let (_, new) = app.get("/api/v3/core/applications/new/").await;
    assert_eq!(new["access_source"], Value::Null);
}
both!(f4_another_sources_owner_is_not_the_owner, f4_another_sources_owner_is_not_the_owner);

// ------------------------------------------------------------------------------------------
// F6: OIDC grants form families and die with the browser session they were born in.

/// `userinfo` with an access token: its status.
async fn userinfo_status(app: &TestApp, token: &Value) -> u16 {
    let response = reqwest::Client::new()
        .get(format!("{}/application/o/userinfo/", app.base))
        .bearer_auth(token.as_str().unwrap())
        .send()
        .await
        .unwrap();
    response.status().as_u16()
}

async fn refresh(app: &TestApp, rp: &crate::oidc::Rp, token: &Value) -> (StatusCode, Value) {
    let token = token.as_str().unwrap();
    app.oauth_post(
        "/application/o/token/",
        Some((&rp.client_id, &rp.secret)),
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
    )
    .await
}

async fn f6_token_families_and_sign_out(app: &TestApp) {
    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    let rp = app.relying_party("rp", json!({})).await;
    let mut friend = app.sign_in("plex", FRIEND).await;

    // A spent refresh token used again (a thief, or the client after the thief) revokes every
    // token issued from the same grant, the successors included.
    let code = crate::oidc::code_for(app, &mut friend, &rp).await;
    let (_, first) = crate::oidc::exchange(app, &rp, &code).await;
    let (status, second) = refresh(app, &rp, &first["refresh_token"]).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(userinfo_status(app, &second["access_token"]).await, 200);
    let (status, error) = refresh(app, &rp, &first["refresh_token"]).await;
    assert_eq!((status.as_u16(), &error["error"]), (400, &json!("invalid_grant")));
    assert_eq!(userinfo_status(app, &second["access_token"]).await, 401, "the successor's access token");
    assert_eq!(refresh(app, &rp, &second["refresh_token"]).await.0, 400, "the successor's refresh token");
    assert_eq!(userinfo_status(app, &first["access_token"]).await, 401);

    // Revoking a refresh token revokes the access tokens of its grant.
    let code = crate::oidc::code_for(app, &mut friend, &rp).await;
    let (_, tokens) = crate::oidc::exchange(app, &rp, &code).await;
    let (status, _) = app
        .oauth_post(
            "/application/o/revoke/",
            Some((&rp.client_id, &rp.secret)),
            &[("token", tokens["refresh_token"].as_str().unwrap()), ("token_type_hint", "refresh_token")],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(userinfo_status(app, &tokens["access_token"]).await, 401);

    // Signing out of plexid ends the OpenID Connect grants and forward-auth sessions born in that
    // browser, not those of another browser.
    app.forward_auth_app("fa", json!({"external_host": "http://fa.test"}), json!([])).await;
    let mut other_browser = app.sign_in("plex", FRIEND).await;
    let code = crate::oidc::code_for(app, &mut other_browser, &rp).await;
    let (_, elsewhere) = crate::oidc::exchange(app, &rp, &code).await;
    let code = crate::oidc::code_for(app, &mut friend, &rp).await;
    let (_, here) = crate::oidc::exchange(app, &rp, &code).await;
    let (_, _, fa_cookies) = app.forward_sign_in(&mut friend, "fa.test", "/").await;
    let check = |cookies: Cookies| async move {
        proxied(
            app,
            "fa.test",
            "/outpost.goauthentik.io/auth/nginx",
            &cookies,
            &[("X-Original-URL", "http://fa.test/")],
        )
        .await
        .0
    };
    assert_eq!(check(fa_cookies.clone()).await, 200);
    let csrf = friend.get("plexid_csrf").unwrap().to_owned();
    let status = app.form_post(&mut friend, "/if/logout/", &[("csrf", &csrf)]).await;
    assert!(status.is_redirection(), "{status}");
    assert_eq!(userinfo_status(app, &here["access_token"]).await, 401, "this browser's grant ended");
    assert_eq!(refresh(app, &rp, &here["refresh_token"]).await.0, 400);
    assert_eq!(check(fa_cookies).await, 401, "this browser's forward-auth session ended");
    assert_eq!(userinfo_status(app, &elsewhere["access_token"]).await, 200, "another browser's grant lives on");

    // "Sign out everywhere" from the account page ends every browser's.
    let csrf = other_browser.get("plexid_csrf").unwrap().to_owned();
    app.form_post(&mut other_browser, "/if/logout/", &[("csrf", &csrf), ("everywhere", "on")]).await;
    assert_eq!(userinfo_status(app, &elsewhere["access_token"]).await, 401);
    assert!(app.me(&mut other_browser).await.is_none());
}
both!(f6_token_families_and_sign_out, f6_token_families_and_sign_out);

// ------------------------------------------------------------------------------------------
// F8: a cross-site link cannot sign anyone out.

async fn f8_end_session_without_a_valid_hint_asks_first(app: &TestApp) {
    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    let rp = app.relying_party("rp", json!({})).await;
    let other = app.relying_party("other", json!({})).await;
    let mut friend = app.sign_in("plex", FRIEND).await;
    let mut member = app.sign_in("plex", MEMBER).await;
    let code = crate::oidc::code_for(app, &mut member, &rp).await;
    let (_, member_tokens) = crate::oidc::exchange(app, &rp, &code).await;
    let code = crate::oidc::code_for(app, &mut friend, &other).await;
    let (_, other_tokens) = crate::oidc::exchange(app, &other, &code).await;
    let forged = {
        // A token of the right shape signed with a key plexid never published.
        let key = jsonwebtoken::EncodingKey::from_secret(b"not plexid's");
        jsonwebtoken::encode(&jsonwebtoken::Header::default(), &json!({"sub": "x", "aud": rp.client_id}), &key).unwrap()
    };
    for hint in [
        None,
        Some(forged.as_str()),
        Some(member_tokens["id_token"].as_str().unwrap()), // someone else's
        Some(other_tokens["id_token"].as_str().unwrap()),  // the friend's, for another application
        Some("garbage"),
    ] {
        let mut path =
            "/application/o/rp/end-session/?post_logout_redirect_uri=https%3A%2F%2Frp.example.com%2Fcallback"
                .to_owned();
        if let Some(hint) = hint {
            path.push_str(&format!("&id_token_hint={}", crate::oidc::urlencode(hint)));
        }
        let answer = app.browser(&mut friend, Method::GET, &path, None, false).await;
        assert_eq!(answer.status, 200, "{hint:?}: a question, not a sign-out");
        assert!(answer.body.as_str().unwrap().contains("Sign out?"));
        assert!(app.me(&mut friend).await.is_some(), "{hint:?}: still signed in");
    }
    // A POST without the session's CSRF token (a cross-site form) is asked again.
    let path = "/application/o/rp/end-session/";
    assert_eq!(app.form_post(&mut friend, path, &[("csrf", "wrong")]).await, 200);
    assert!(app.me(&mut friend).await.is_some());
    // The confirmation signs out and follows the registered return address.
    let csrf = crate::security::csrf_of(&friend);
    let status = app
        .form_post(
            &mut friend,
            path,
            &[("csrf", &csrf), ("post_logout_redirect_uri", crate::oidc::CALLBACK), ("state", "s")],
        )
        .await;
    assert!(status.is_redirection());
    assert!(app.me(&mut friend).await.is_none());
}
both!(f8_end_session_without_a_valid_hint_asks_first, f8_end_session_without_a_valid_hint_asks_first);

/// The CSRF token of a signed-in browser (its `plexid_csrf` cookie).
pub fn csrf_of(cookies: &Cookies) -> String {
    cookies.get("plexid_csrf").expect("a signed-in browser").to_owned()
}

impl TestApp {
    /// A form POST as a browser (`application/x-www-form-urlencoded`); returns the status.
    pub async fn form_post(&self, cookies: &mut Cookies, path: &str, form: &[(&str, &str)]) -> StatusCode {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let response = client
            .post(format!("{}{path}", self.base))
            .header("Cookie", cookies.header())
            .form(form)
            .send()
            .await
            .unwrap();
        cookies.absorb(&response);
        response.status()
    }
}

// ------------------------------------------------------------------------------------------
// F7: addresses and limits an attacker cannot steer.

impl TestApp {
    /// `redeem_token` with `token`, from the address `forwarded` (as the trusted proxy reports
    /// it), as a browser with `cookies`.
    async fn redeem_from(&self, cookies: &mut Cookies, token: &str, forwarded: &str) -> StatusCode {
        let client = reqwest::Client::new();
        let response = client
            .post(format!("{}/api/v3/sources/plex/redeem_token/?slug=plex", self.base))
            .header("Cookie", cookies.header())
            .header("X-Forwarded-For", forwarded)
            .json(&json!({"plex_token": token}))
            .send()
            .await
            .unwrap();
        cookies.absorb(&response);
        response.status()
    }
}

async fn f7_the_client_address_is_the_proxys_not_the_clients(app: &TestApp) {
    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    // The client makes up a new leftmost address for every attempt; the proxy appends the real one.
    for i in 0..3 {
        let status = app.redeem_from(&mut Cookies::default(), "bad-token", &format!("10.0.0.{i}, 203.0.113.9")).await;
        assert_ne!(status, StatusCode::TOO_MANY_REQUESTS, "attempt {i}");
    }
    let status = app.redeem_from(&mut Cookies::default(), "bad-token", "10.0.0.99, 203.0.113.9").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "the fourth attempt from 203.0.113.9");
    let refusals = app.events("action=login_failed").await;
    assert!(!refusals.is_empty());
    assert!(refusals.iter().all(|e| e["client_ip"] == "203.0.113.9"), "the audit log records the real address");
}
both!(
    f7_the_client_address_is_the_proxys_not_the_clients,
    f7_the_client_address_is_the_proxys_not_the_clients,
    settings(|s| {
        s.trust_proxy_headers = true;
        s.login_rate_limit = 3;
    })
);

async fn f7_a_flood_cannot_lock_out_members(app: &TestApp) {
    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    // A member signed in from this browser before: it holds plexid's device cookie.
    let mut member = app.sign_in("plex", MEMBER).await;
    assert!(member.get("plexid_device").is_some());
    member.0.remove("plexid_session");
    // A flood from many addresses fills the source's budget.
    let mut refused = 0;
    for i in 0..12 {
        if app.redeem_from(&mut Cookies::default(), "bad-token", &format!("198.51.100.{i}")).await
            == StatusCode::TOO_MANY_REQUESTS
        {
            refused += 1;
        }
    }
    assert!(refused > 0, "the source limit held the flood back");
    // Someone new is held back too (documented), but the member is not.
    let friend_token = app.plex.token_of(FRIEND).unwrap();
    assert_eq!(
        app.redeem_from(&mut Cookies::default(), &friend_token, "192.0.2.1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    let member_token = app.plex.token_of(MEMBER).unwrap();
    assert_eq!(app.redeem_from(&mut member, &member_token, "192.0.2.2").await, StatusCode::OK);
    assert!(member.get("plexid_session").is_some());
    // A forged device cookie is just a browser without one.
    let mut forged = Cookies([("plexid_device".to_owned(), "2.1700000000.AAAA".to_owned())].into());
    assert_eq!(app.redeem_from(&mut forged, &friend_token, "192.0.2.3").await, StatusCode::TOO_MANY_REQUESTS);
}
both!(
    f7_a_flood_cannot_lock_out_members,
    f7_a_flood_cannot_lock_out_members,
    settings(|s| {
        s.trust_proxy_headers = true;
        s.login_source_rate_limit = 6;
    })
);

// ------------------------------------------------------------------------------------------
// F9: privileged accounts are special.

async fn f9_a_helpdesk_cannot_touch_a_superusers_sessions_or_tokens(app: &TestApp) {
    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    let mut helpdesk = app.sign_in("plex", FRIEND).await;
    app.grant(
        "friend",
        &[
            "authentik_core.view_user",
            "authentik_core.change_user",
            "authentik_core.view_token",
            "authentik_core.change_token",
            "authentik_core.delete_token",
        ],
    )
    .await;
    let admin = app.admin_token_session().await;
    let akadmin = app.user_pk("akadmin").await;
    let csrf = csrf_of(&helpdesk);
    // Ending a superuser's sessions (and grants) from the admin pages.
    let status =
        app.form_post(&mut helpdesk, &format!("/if/admin/users/{akadmin}/sessions/end-all"), &[("csrf", &csrf)]).await;
    assert_eq!(status, 403);
    let (_, sessions) = app.get(&format!("/api/v3/core/users/{akadmin}/")).await;
    assert_eq!(sessions["username"], "akadmin");
    let answer = app.browser(&mut admin.clone(), Method::GET, "/if/admin/", None, false).await;
    assert_eq!(answer.status, 200, "akadmin's session lives on");
    // Changing or deleting a superuser's tokens, the bootstrap token included.
    let (_, tokens) = app.get("/api/v3/core/tokens/?user__username=akadmin").await;
    let bootstrap = tokens["results"][0]["identifier"].as_str().unwrap().to_owned();
    let path = format!("/api/v3/core/tokens/{bootstrap}/");
    let expire = json!({"expiring": true, "expires": "2000-01-01T00:00:00Z"});
    let (status, body) = app.as_browser(&mut helpdesk, Method::PATCH, &path, Some(expire)).await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = app.as_browser(&mut helpdesk, Method::DELETE, &path, None).await;
    assert_eq!(status, 403);
    assert_eq!(app.get("/api/v3/core/users/me/").await.0, 200, "the bootstrap token still works");
    // An ordinary user's are within the helpdesk's rights.
    let mut member = app.sign_in("plex", MEMBER).await;
    let member_pk = app.user_pk("member").await;
    let status = app
        .form_post(&mut helpdesk, &format!("/if/admin/users/{member_pk}/sessions/end-all"), &[("csrf", &csrf)])
        .await;
    assert!(status.is_redirection(), "{status}");
    assert!(app.me(&mut member).await.is_none());
}
both!(
    f9_a_helpdesk_cannot_touch_a_superusers_sessions_or_tokens,
    f9_a_helpdesk_cannot_touch_a_superusers_sessions_or_tokens
);

// ------------------------------------------------------------------------------------------
// F15: the admin token sign-in has a login-CSRF token and a rate limit.

async fn f15_the_admin_token_sign_in_resists_csrf_and_guessing(app: &TestApp) {
    // A cross-site form (no login-CSRF cookie) cannot sign a browser in, even with a valid token.
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = client
        .post(format!("{}/if/admin/sign-in", app.base))
        .form(&[("token", app.token.as_str()), ("login_csrf", "made-up")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert!(response
        .headers()
        .get_all("set-cookie")
        .iter()
        .all(|c| !c.to_str().unwrap().starts_with("plexid_session=")));
    // Guessing tokens is rate limited per address.
    let mut last = StatusCode::OK;
    for _ in 0..5 {
        last = app.admin_token_form(&[("token", "guess")]).await.0;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(app.admin_token_form(&[("token", app.token.as_str())]).await.0, StatusCode::TOO_MANY_REQUESTS);
}
both!(
    f15_the_admin_token_sign_in_resists_csrf_and_guessing,
    f15_the_admin_token_sign_in_resists_csrf_and_guessing,
    settings(|s| s.login_rate_limit = 3)
);

// ------------------------------------------------------------------------------------------
// F13: what plex.tv sends is checked and bounded like the API's own input.

async fn f13_plex_profile_values_are_bounded(app: &TestApp) {
    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    let mut weird = fake_plex::Account::new(3001, "placeholder");
    weird.username = "u".repeat(5000);
    weird.title = format!("Ti\u{0}tle{}", "n".repeat(300_000));
    weird.email = "not an email".into();
    app.plex.add_account(weird);
    app.plex.add_friend(OWNER, 3001);
    let mut cookies = Cookies::default();
    let a = app.redeem(&mut cookies, "plex", 3001).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        a.body["to"], "/if/flow/default-source-enrollment/?slug=plex",
        "a username the API refuses is asked for"
    );
    let page = app.browser(&mut cookies, Method::GET, "/if/flow/default-source-enrollment/", None, false).await;
    let html = page.body.as_str().unwrap();
    assert!(html.len() < 20_000, "the page does not carry the 5,000-character name ({} bytes)", html.len());
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = client
        .post(format!("{}/if/flow/default-source-enrollment/", app.base))
        .header("Cookie", cookies.header())
        .form(&[("username", "weird")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    cookies.absorb(&response);
    let me = app.me(&mut cookies).await.unwrap();
    let name = me["name"].as_str().unwrap();
    assert_eq!(name.chars().count(), 150, "the name is cut");
    assert!(name.starts_with("Title"), "control characters are removed: {}", &name[..10]);
    assert_eq!(me["email"], "", "an email the API would refuse is dropped");
    // The identity headers stay small.
    app.forward_auth_app("fa", json!({"external_host": "http://fa.test"}), json!([])).await;
    let (_, _, fa) = app.forward_sign_in(&mut cookies, "fa.test", "/").await;
    let (status, headers) =
        proxied(app, "fa.test", "/outpost.goauthentik.io/auth/nginx", &fa, &[("X-Original-URL", "http://fa.test/")])
            .await;
    assert_eq!(status, 200);
    assert!(headers.iter().map(|(k, v)| k.as_str().len() + v.len()).sum::<usize>() < 2_000);
}
both!(f13_plex_profile_values_are_bounded, f13_plex_profile_values_are_bounded);

// ------------------------------------------------------------------------------------------
// F20: NUL characters are a client's mistake on both engines, never a 500.

async fn f20_nul_characters_are_field_errors(app: &TestApp) {
    let (status, body) =
        app.post("/api/v3/sources/plex/", json!({"name": "N\u{0}", "slug": "n", "plex_token": "t"})).await;
    assert_eq!((status.as_u16(), body), (400, json!({"name": ["Null characters are not allowed."]})));
    let (status, body) = app.get("/api/v3/sources/plex/?search=a%00b").await;
    assert_eq!((status.as_u16(), body), (400, json!({"search": ["Null characters are not allowed."]})));
    let (status, _) = app.get("/api/v3/sources/plex/a%00b/").await;
    assert_eq!(status, 404);
    let (status, body) = app.post("/api/v3/core/groups/", json!({"name": "g", "attributes": {"k": "v\u{0}"}})).await;
    assert!(status == 201 || status == 400, "{status} {body}");
    let (status, _) = app.get("/api/v3/core/users/?username=%00").await;
    assert_eq!(status, 400);
    // The pages: a search and a form field.
    let admin = app.admin_token_session().await;
    let answer = app.browser(&mut admin.clone(), Method::GET, "/if/admin/users/?search=%00", None, false).await;
    assert!(answer.status.is_client_error(), "{}", answer.status);
    let (_, group) = app.post("/api/v3/core/groups/", json!({"name": "viewers"})).await;
    let csrf = csrf_of(&admin);
    let status = app
        .form_post(
            &mut admin.clone(),
            &format!("/if/admin/groups/{}/members", group["pk"].as_str().unwrap()),
            &[("csrf", &csrf), ("username", "a\u{0}b")],
        )
        .await;
    assert!(status.as_u16() < 500, "{status}");
}
both!(f20_nul_characters_are_field_errors, f20_nul_characters_are_field_errors);

// ------------------------------------------------------------------------------------------
// F14: unauthenticated bodies are limited to what they need.

async fn f14_anonymous_bodies_are_small(app: &TestApp) {
    let big = json!({"plex_token": "x".repeat(100 * 1024)}).to_string();
    let (status, _) = app.send(Method::POST, "/api/v3/sources/plex/redeem_token/?slug=plex", None, Some(&big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let response = reqwest::Client::new()
        .post(format!("{}/application/o/token/", app.base))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("grant_type=authorization_code&code={}", "x".repeat(100 * 1024)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // An authenticated caller may still send a large body (a long mapping expression, say).
    let expression = format!("return {{\"note\": \"{}\"}}", "x".repeat(100 * 1024));
    let (status, body) =
        app.post("/api/v3/propertymappings/source/plex/", json!({"name": "big", "expression": expression})).await;
    assert_ne!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
}
both!(f14_anonymous_bodies_are_small, f14_anonymous_bodies_are_small);

// ------------------------------------------------------------------------------------------
// F19: email_verified only for an address plex.tv confirmed.

async fn f19_email_verified_only_when_plex_confirmed_it(app: &TestApp) {
    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    let rp = app.relying_party("rp", json!({})).await;
    let mut friend = app.sign_in("plex", FRIEND).await;
    let code = crate::oidc::code_for(app, &mut friend, &rp).await;
    let (_, tokens) = crate::oidc::exchange(app, &rp, &code).await;
    let claims = crate::oidc::verify_id_token(app, &rp, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["email_verified"], true, "plex.tv confirmed {}", claims["email"]);
    // An address an administrator typed in is not one plex.tv confirmed.
    let pk = app.user_pk("friend").await;
    app.patch(&format!("/api/v3/core/users/{pk}/"), json!({"email": "typed@example.com"})).await;
    let code = crate::oidc::code_for(app, &mut friend, &rp).await;
    let (_, tokens) = crate::oidc::exchange(app, &rp, &code).await;
    let claims = crate::oidc::verify_id_token(app, &rp, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(
        (claims["email"].as_str(), claims["email_verified"].as_bool()),
        (Some("typed@example.com"), Some(false))
    );
}
both!(f19_email_verified_only_when_plex_confirmed_it, f19_email_verified_only_when_plex_confirmed_it);

// ------------------------------------------------------------------------------------------
// F16: a flood of refusals cannot fill the disk; events are deleted when they expire.

async fn f16_refusals_are_aggregated_and_expire(app: &TestApp) {
    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    app.sign_in("plex", FRIEND).await;
    for _ in 0..5 {
        app.redeem_from(&mut Cookies::default(), "bad-token", "203.0.113.5").await;
    }
    let refusals = app.events("action=login_failed").await;
    assert_eq!(refusals.len(), 1, "one event for five refusals from one address: {refusals:?}");
    assert_eq!(refusals[0]["context"]["count"], 5);
    assert_eq!(refusals[0]["context"]["reason"], "plex_token_invalid");
    // From many addresses: at most ANONYMOUS_PER_HOUR events a source and hour, the rest counted.
    let per_hour = plexid_server::service::events::ANONYMOUS_PER_HOUR;
    for i in 0..(per_hour + 20) {
        app.redeem_from(&mut Cookies::default(), "bad-token", &format!("198.51.{}.{}", i / 200, i % 200)).await;
    }
    let total = app.count("/api/v3/events/events/?action=login_failed").await as i64;
    assert!(total <= per_hour + 1, "{total} refusal events");
    let (_, all) = app.get("/api/v3/events/events/?action=login_failed&page_size=500").await;
    let counted: i64 =
        all["results"].as_array().unwrap().iter().map(|e| e["context"]["count"].as_i64().unwrap_or(1)).sum();
    assert_eq!(counted, 5 + per_hour + 20, "every refusal is counted");
    // Anonymous refusals expire after 30 days, the rest after a year; the clean-up job deletes them.
    app.state.clock.advance(std::time::Duration::from_secs(31 * 86_400));
    plexid_server::service::sessions::sweep_stale(&app.state).await.unwrap();
    assert_eq!(app.count("/api/v3/events/events/?action=login_failed").await, 0);
    assert!(app.count("/api/v3/events/events/?action=login").await >= 1, "the friend's sign-in is kept");
    app.state.clock.advance(std::time::Duration::from_secs(366 * 86_400));
    plexid_server::service::sessions::sweep_stale(&app.state).await.unwrap();
    assert_eq!(app.count("/api/v3/events/events/").await, 0, "nothing outlives its expiry");
}
both!(
    f16_refusals_are_aggregated_and_expire,
    f16_refusals_are_aggregated_and_expire,
    manual_clock_settings(|s| s.trust_proxy_headers = true)
);

// ------------------------------------------------------------------------------------------
// F11: the forward-auth callback checks its return address again.

async fn f11_a_planted_state_cookie_is_no_open_redirect(app: &TestApp) {
    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    let provider = app.forward_auth_app("fa", json!({"external_host": "http://fa.test"}), json!([])).await;
    let mut friend = app.sign_in("plex", FRIEND).await;
    // start: a return address with control characters, or elsewhere, is refused.
    for rd in ["/x%0d%0aSet-Cookie:%20a=b", "https://evil.example/"] {
        let (status, _) =
            proxied(app, "fa.test", &format!("/outpost.goauthentik.io/start?rd={rd}"), &Cookies::default(), &[]).await;
        assert_eq!(status, 400, "{rd}");
    }
    // A state cookie planted with someone else's return address (from a sibling host, say).
    let (status, headers) =
        proxied(app, "fa.test", "/outpost.goauthentik.io/start?rd=/ok", &Cookies::default(), &[]).await;
    assert!(status.is_redirection());
    let state_name = format!("authentik_proxy_{}_state", provider["pk"]);
    let set = headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with(&state_name))
        .unwrap();
    let value = set.split(';').next().unwrap().split_once('=').unwrap().1.to_owned();
    let nonce = url::form_urlencoded::parse(value.as_bytes()).find(|(k, _)| k == "s").unwrap().1.into_owned();
    let authorize = headers["location"].to_str().unwrap();
    let authorize = url::Url::parse(authorize).unwrap();
    let answer = app
        .browser(&mut friend, Method::GET, &format!("{}?{}", authorize.path(), authorize.query().unwrap()), None, false)
        .await;
    let callback = url::Url::parse(answer.headers["location"].to_str().unwrap()).unwrap();
    for planted in ["https://evil.example/", "/x\r\nSet-Cookie: a=b"] {
        let mut state = url::form_urlencoded::Serializer::new(String::new());
        state.append_pair("s", &nonce).append_pair("rd", planted);
        let cookies = Cookies([(state_name.clone(), state.finish())].into());
        let (status, headers) =
            proxied(app, "fa.test", &format!("{}?{}", callback.path(), callback.query().unwrap()), &cookies, &[]).await;
        if status.is_redirection() {
            let location = headers["location"].to_str().unwrap();
            assert!(location.starts_with("http://fa.test/"), "{planted:?} sent the browser to {location}");
            break; // the code is spent now
        }
        assert!(status.is_client_error(), "{planted:?}: {status}");
    }
}
both!(f11_a_planted_state_cookie_is_no_open_redirect, f11_a_planted_state_cookie_is_no_open_redirect);

// ------------------------------------------------------------------------------------------
// F18: cookies and headers of a deployment under HTTPS.

async fn f18_https_cookies_and_headers(app: &TestApp) {
    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    let token = app.plex.token_of(FRIEND).unwrap();
    let response = reqwest::Client::new()
        .post(format!("{}/api/v3/sources/plex/redeem_token/?slug=plex", app.base))
        .json(&json!({"plex_token": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let set: Vec<String> =
        response.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    for name in ["plexid_session", "plexid_csrf", "plexid_device"] {
        let cookie =
            set.iter().find(|c| c.starts_with(&format!("__Host-{name}="))).unwrap_or_else(|| panic!("{name}: {set:?}"));
        assert!(cookie.contains("Secure") && cookie.contains("Path=/") && !cookie.contains("Domain"), "{cookie}");
    }
    let session =
        set.iter().find(|c| c.starts_with("__Host-plexid_session=")).unwrap().split(';').next().unwrap().to_owned();
    // A signed-in page: not cached, not framed, not sniffed.
    let page =
        reqwest::Client::new().get(format!("{}/if/user/", app.base)).header("Cookie", &session).send().await.unwrap();
    assert_eq!(page.status(), 200, "the prefixed session cookie signs in");
    assert_eq!(page.headers()["cache-control"], "no-store");
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert!(page.headers()["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    // The unprefixed name a sibling host could plant means nothing.
    let planted = session.replacen("__Host-", "", 1);
    let page = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/if/user/", app.base))
        .header("Cookie", &planted)
        .send()
        .await
        .unwrap();
    assert!(page.status().is_redirection(), "not signed in with {planted}");
}
both!(
    f18_https_cookies_and_headers,
    f18_https_cookies_and_headers,
    settings(|s| s.public_url = Some("https://id.example.com".into()))
);
