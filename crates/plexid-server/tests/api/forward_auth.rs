//! Forward-auth over HTTP, as a reverse proxy drives it (the proxy's requests are made here with
//! the headers nginx, Traefik and Caddy send; `proxies.rs` puts a real nginx in front): the
//! check answers 401 or a redirect, the sign-in round trip through plexid, identity headers,
//! return addresses limited to protected hosts, domain mode, and access lost to the sweep.

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both;
use crate::helpers::TestApp;
use crate::login::{Cookies, FRIEND, MEMBER, OWNER};

const APP_HOST: &str = "app.test";

/// A request to plexid as a proxy would make it: `host` in the Host header, `headers` added.
pub async fn proxied(
    app: &TestApp,
    host: &str,
    path: &str,
    cookies: &Cookies,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap) {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut request = client.get(format!("{}{path}", app.base)).header("Host", host).header("Cookie", cookies.header());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.headers().clone())
}

fn location(headers: &HeaderMap) -> String {
    headers.get("location").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

/// The cookies a response sets, added to `cookies`.
fn absorb(cookies: &mut Cookies, headers: &HeaderMap) {
    for value in headers.get_all("set-cookie") {
        let text = value.to_str().unwrap();
        let (name, value) = text.split(';').next().unwrap().split_once('=').unwrap();
        if value.is_empty() {
            cookies.0.remove(name);
        } else {
            cookies.0.insert(name.into(), value.into());
        }
    }
}

/// The path and query of a URL (the test reaches plexid at its own address whatever host the
/// URL names).
fn path_of(url: &str) -> String {
    let parsed = url::Url::parse(url).unwrap();
    format!("{}?{}", parsed.path(), parsed.query().unwrap_or(""))
}

impl TestApp {
    /// A forward-auth application for `external_host` admitting `relationships`.
    pub async fn forward_auth_app(&self, slug: &str, fields: Value, relationships: Value) -> Value {
        let mut body = json!({
            "name": format!("FA {slug}"),
            "authorization_flow": self.flow_pk("default-provider-authorization-implicit-consent").await,
        });
        for (k, v) in fields.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, provider) = self.post("/api/v3/providers/proxy/", body).await;
        assert_eq!(status, 201, "{provider}");
        self.application(slug, &provider["pk"], json!({"access_relationships": relationships})).await;
        provider
    }

    /// The whole round trip for a signed-in browser: `start` on `host` → plexid's authorization
    /// → `callback` on the callback host. Returns the final redirect and the browser's cookies
    /// for the application's host.
    pub async fn forward_sign_in(&self, plexid: &mut Cookies, host: &str, rd: &str) -> (StatusCode, String, Cookies) {
        let mut app_cookies = Cookies::default();
        let start = format!("/outpost.goauthentik.io/start?rd={}", crate::oidc::urlencode(rd));
        let (status, headers) = proxied(self, host, &start, &app_cookies, &[]).await;
        if !status.is_redirection() {
            return (status, String::new(), app_cookies);
        }
        absorb(&mut app_cookies, &headers);
        let answer = self.browser(plexid, reqwest::Method::GET, &path_of(&location(&headers)), None, false).await;
        if !answer.status.is_redirection() {
            return (answer.status, String::new(), app_cookies);
        }
        let callback = answer.headers.get("location").unwrap().to_str().unwrap().to_owned();
        let callback_host = url::Url::parse(&callback).unwrap().host_str().unwrap().to_owned();
        let (status, headers) = proxied(self, &callback_host, &path_of(&callback), &app_cookies, &[]).await;
        absorb(&mut app_cookies, &headers);
        (status, location(&headers), app_cookies)
    }
}

async fn nginx_style(app: &TestApp) {
    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    let provider =
        app.forward_auth_app("fa", json!({"external_host": format!("http://{APP_HOST}")}), json!(["friend"])).await;
    let original = [("X-Original-URL", "http://app.test/private?x=1")];
    let nobody = Cookies::default();

    // No session: 401 (nginx then sends the browser to start).
    let (status, _) = proxied(app, "plexid.internal", "/outpost.goauthentik.io/auth/nginx", &nobody, &original).await;
    assert_eq!(status, 401);
    // An address plexid protects nothing at: 404.
    let (status, _) = proxied(
        app,
        "x",
        "/outpost.goauthentik.io/auth/nginx",
        &nobody,
        &[("X-Original-URL", "http://elsewhere.test/")],
    )
    .await;
    assert_eq!(status, 404);

    // A friend signs in through the round trip and is sent back where they were going.
    let mut friend = app.sign_in("plex", FRIEND).await;
    let (status, back, cookies) = app.forward_sign_in(&mut friend, APP_HOST, "/private?x=1").await;
    assert!(status.is_redirection(), "{status}");
    assert_eq!(back, "http://app.test/private?x=1");
    let name = format!("authentik_proxy_{}", provider["pk"]);
    assert!(cookies.get(&name).is_some(), "{cookies:?}");

    // Now the check answers 200 with the identity headers.
    let (status, headers) =
        proxied(app, "plexid.internal", "/outpost.goauthentik.io/auth/nginx", &cookies, &original).await;
    assert_eq!(status, 200);
    let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    assert_eq!(header("x-authentik-username"), "friend");
    assert_eq!(header("x-authentik-meta-app"), "fa");
    assert_eq!(header("x-plexid-plex-id"), FRIEND.to_string());
    assert_eq!(header("x-plexid-plex-relationship"), "friend");
    assert_eq!(header("x-authentik-uid").len(), 64);

    // The cookie is the application's own: another application's check does not accept it.
    app.forward_auth_app("other", json!({"external_host": "http://other.test"}), json!([])).await;
    let (status, _) =
        proxied(app, "x", "/outpost.goauthentik.io/auth/nginx", &cookies, &[("X-Original-URL", "http://other.test/")])
            .await;
    assert_eq!(status, 401);

    // Return addresses are limited to the application's host.
    let (status, _) =
        proxied(app, APP_HOST, "/outpost.goauthentik.io/start?rd=https%3A%2F%2Fevil.example.net%2F", &nobody, &[])
            .await;
    assert_eq!(status, 400);
    let (status, _) =
        proxied(app, APP_HOST, "/outpost.goauthentik.io/start?rd=%2F%2Fevil.example.net%2F", &nobody, &[]).await;
    assert_eq!(status, 400);
    // A callback without the state this browser was given is refused.
    let (status, _) = proxied(
        app,
        APP_HOST,
        "/outpost.goauthentik.io/callback?X-authentik-auth-callback=true&code=x&state=y",
        &nobody,
        &[],
    )
    .await;
    assert_eq!(status, 400);

    // A member (not a friend) is refused by the application's rule.
    let mut member = app.sign_in("plex", MEMBER).await;
    let (status, _, _) = app.forward_sign_in(&mut member, APP_HOST, "/").await;
    assert_eq!(status, 403);

    // The owner unfriends the friend: after the sweep, the session no longer passes.
    app.plex.remove_friend(OWNER, FRIEND);
    app.plex.remove_friend(FRIEND, OWNER);
    plexid_server::jobs::access::sweep(&app.state).await.unwrap();
    let (status, _) = proxied(app, "plexid.internal", "/outpost.goauthentik.io/auth/nginx", &cookies, &original).await;
    assert_eq!(status, 401);
}
both!(nginx_style_case, nginx_style);

async fn traefik_caddy_and_domain_mode(app: &TestApp) {
    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    app.forward_auth_app(
        "domain",
        json!({"external_host": "http://auth.example.test", "mode": "forward_domain", "cookie_domain": "example.test"}),
        json!([]),
    )
    .await;
    let forwarded =
        [("X-Forwarded-Proto", "http"), ("X-Forwarded-Host", "wiki.example.test"), ("X-Forwarded-Uri", "/page?a=b")];
    let nobody = Cookies::default();

    // Traefik and Caddy get a redirect to start on the domain's auth host.
    for server in ["traefik", "caddy"] {
        let (status, headers) =
            proxied(app, "plexid.internal", &format!("/outpost.goauthentik.io/auth/{server}"), &nobody, &forwarded)
                .await;
        assert!(status.is_redirection(), "{server}: {status}");
        assert_eq!(
            location(&headers),
            "http://auth.example.test/outpost.goauthentik.io/start?rd=http%3A%2F%2Fwiki.example.test%2Fpage%3Fa%3Db"
        );
    }

    // The round trip on the auth host; the cookie covers the whole domain.
    let mut owner = app.sign_in("plex", OWNER).await;
    let (status, back, cookies) =
        app.forward_sign_in(&mut owner, "auth.example.test", "http://wiki.example.test/page?a=b").await;
    assert!(status.is_redirection(), "{status}");
    assert_eq!(back, "http://wiki.example.test/page?a=b");
    let (status, headers) =
        proxied(app, "plexid.internal", "/outpost.goauthentik.io/auth/traefik", &cookies, &forwarded).await;
    assert_eq!(status, 200);
    assert_eq!(headers.get("x-authentik-username").unwrap(), "owner");
    let (status, _) =
        proxied(app, "auth.example.test", "/outpost.goauthentik.io/start?rd=http%3A%2F%2Fexample.net%2F", &nobody, &[])
            .await;
    assert_eq!(status, 400, "a host outside the cookie domain");

    // Signing out of the application ends its session.
    let (status, _) = proxied(app, "auth.example.test", "/outpost.goauthentik.io/sign_out", &cookies, &[]).await;
    assert_eq!(status, 200);
    let (status, _) = proxied(app, "plexid.internal", "/outpost.goauthentik.io/auth/caddy", &cookies, &forwarded).await;
    assert!(status.is_redirection());
}
both!(traefik_caddy_and_domain_mode_case, traefik_caddy_and_domain_mode);

/// What one instance keeps in memory (forward-auth answers, applications by host, signing keys)
/// follows changes made on another instance: an application's rule, a user's name, the access
/// sweep, a key rotation.
async fn cached_answers_follow_other_instances(app: &TestApp) {
    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    app.forward_auth_app("fa", json!({"external_host": format!("http://{APP_HOST}")}), json!(["friend"])).await;
    let other = app.second_instance().await;
    let mut friend = app.sign_in("plex", FRIEND).await;
    let (_, _, cookies) = app.forward_sign_in(&mut friend, APP_HOST, "/").await;
    let original = [("X-Original-URL", "http://app.test/")];
    let check = |cookies: Cookies| {
        let other = &other;
        async move {
            let (status, headers) =
                proxied(other, "x", "/outpost.goauthentik.io/auth/nginx", &cookies, &original).await;
            (
                status.as_u16(),
                headers.get("x-authentik-name").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default(),
            )
        }
    };
    for _ in 0..3 {
        assert_eq!(check(cookies.clone()).await.0, 200, "warm on the other instance");
    }
    let eventually_status = |want: u16| {
        let cookies = cookies.clone();
        async move {
            crate::login::eventually(|| {
                let c = cookies.clone();
                async move { check(c).await.0 == want }
            })
            .await
        }
    };

    // The application's rule changes on this instance.
    assert_eq!(app.patch("/api/v3/core/applications/fa/", json!({"access_relationships": ["owner"]})).await.0, 200);
    assert!(eventually_status(401).await, "the narrower rule applies there");
    assert_eq!(app.patch("/api/v3/core/applications/fa/", json!({"access_relationships": ["friend"]})).await.0, 200);
    assert!(eventually_status(200).await, "and the wider one again");

    // A new name shows in the headers.
    let (_, users) = app.get("/api/v3/core/users/?username=friend").await;
    let pk = users["results"][0]["pk"].as_i64().unwrap();
    assert_eq!(app.patch(&format!("/api/v3/core/users/{pk}/"), json!({"name": "Renamed Friend"})).await.0, 200);
    let renamed = crate::login::eventually(|| {
        let c = cookies.clone();
        async move { check(c).await.1 == "Renamed Friend" }
    })
    .await;
    assert!(renamed, "the new name reaches the other instance");

    // The sweep on this instance ends the session there.
    app.plex.remove_friend(OWNER, FRIEND);
    app.plex.remove_friend(FRIEND, OWNER);
    plexid_server::jobs::access::sweep(&app.state).await.unwrap();
    assert!(eventually_status(401).await, "revoked there too");

    // A key rotated here is published there.
    let (_, before) = other.get("/application/o/none/jwks/").await;
    assert_eq!(before["detail"], "Not found.");
    let rp = app.relying_party("rp", json!({})).await;
    let (_, first) = other.get(&format!("/application/o/{}/jwks/", rp.slug)).await;
    plexid_server::service::keys::rotate(&app.state, plexid_core::modes::SigningAlg::Rs256, true).await.unwrap();
    let published = crate::login::eventually(|| async {
        let (_, now) = other.get(&format!("/application/o/{}/jwks/", rp.slug)).await;
        now["keys"].as_array().unwrap().len() == first["keys"].as_array().unwrap().len() + 1
    })
    .await;
    assert!(published, "the new key is in the other instance's JWKS");
}
both!(cached_answers_follow_other_instances_case, cached_answers_follow_other_instances);

/// The auth caches serve both engines (issue 23) and follow every change: one made outside this
/// instance (on SQLite by another process on the same file, here a store of its own with its own
/// connections, as `plexid create-token` or a second plexid would be; on PostgreSQL by another
/// instance) is seen by the first request after it on SQLite, which checks `PRAGMA
/// data_version` each time, and once its notification arrives on PostgreSQL; this instance's own
/// changes are seen at once on both.
async fn auth_caches_follow_changes_from_outside(app: &TestApp) {
    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    app.forward_auth_app("fa", json!({"external_host": format!("http://{APP_HOST}")}), json!(["friend"])).await;
    let mut friend = app.sign_in("plex", FRIEND).await;
    let (_, _, forward) = app.forward_sign_in(&mut friend, APP_HOST, "/").await;
    let outside_key = app.user_with_permissions("viewer", &["authentik_sources_plex.view_plexsource"]).await;
    let own_key = app.user_with_permissions("viewer2", &["authentik_sources_plex.view_plexsource"]).await;
    let outsider = plexid_store::Store::connect(&app.state.settings.db.database).await.unwrap();
    let outside = |sql: String| {
        let outsider = outsider.clone();
        async move {
            let mut tx = outsider.begin().await.unwrap();
            tx.conn().execute(&sql, vec![]).await.unwrap();
            tx.commit().await.unwrap();
        }
    };
    let list = |key: String| {
        let url = format!("{}/api/v3/sources/plex/", app.base);
        async move { reqwest::Client::new().get(url).bearer_auth(key).send().await.unwrap().status().as_u16() }
    };
    let original = [("X-Original-URL", "http://app.test/")];
    let check = || async { proxied(app, "x", "/outpost.goauthentik.io/auth/nginx", &forward, &original).await.0 };
    // Seen: by the next request on SQLite; once the notification arrives on PostgreSQL.
    let sqlite = app.store.dialect() == plexid_store::Dialect::Sqlite;
    macro_rules! seen {
        ($probe:expr, $want:expr, $what:literal) => {
            if sqlite {
                assert_eq!(($probe), $want, $what);
            } else {
                assert!(crate::login::eventually(|| async { ($probe) == $want }).await, $what);
            }
        };
    }

    assert!(crate::login::eventually(|| async { app.store.auth_generation().is_some() }).await, "caches are on");
    for _ in 0..3 {
        assert_eq!(list(outside_key.clone()).await, 200);
        assert_eq!(list(own_key.clone()).await, 200);
        assert!(app.me(&mut friend.clone()).await.is_some());
        assert_eq!(check().await, StatusCode::OK);
    }
    let standing = app.store.auth_generation();
    assert_eq!((list(own_key.clone()).await, check().await), (200, StatusCode::OK));
    assert_eq!(app.store.auth_generation(), standing, "answering from the caches changes nothing");

    // This instance revokes a token: refused at once.
    let (_, tokens) = app.get("/api/v3/core/tokens/?user__username=viewer2").await;
    let identifier = tokens["results"][0]["identifier"].as_str().unwrap().to_owned();
    assert_eq!(app.delete(&format!("/api/v3/core/tokens/{identifier}/")).await.0, 204);
    assert_eq!(list(own_key.clone()).await, 403, "this instance's revocation, at once");

    // Outside: a token revoked, the forward-auth session ended, the user deactivated.
    outside("DELETE FROM api_token WHERE user_id = (SELECT id FROM app_user WHERE username = 'viewer')".into()).await;
    seen!(list(outside_key.clone()).await, 403, "a token revoked outside is refused");
    assert_eq!(check().await, StatusCode::OK, "nothing else changed for the friend");
    outside("UPDATE app_user SET is_active = FALSE WHERE username = 'friend'".into()).await;
    seen!(app.me(&mut friend.clone()).await.is_none(), true, "a user deactivated outside is signed out");
    seen!(check().await == StatusCode::OK, false, "and refused by forward-auth");
    outside("UPDATE app_user SET is_active = TRUE WHERE username = 'friend'".into()).await;
    seen!(check().await, StatusCode::OK, "reactivated outside");
    outside("DELETE FROM proxy_session".into()).await;
    seen!(check().await == StatusCode::OK, false, "a forward-auth session ended outside is refused");
    outsider.close().await;
}
both!(auth_caches_follow_changes_from_outside_case, auth_caches_follow_changes_from_outside);
