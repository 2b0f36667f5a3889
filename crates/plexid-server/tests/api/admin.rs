//! The admin pages over HTTP (both databases): who may open them, the source form's create,
//! edit (the stored token kept, never shown) and delete with its confirmation, field errors in
//! authentik's wording, CSRF, and the server picker endpoint (D16).

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both;
use crate::helpers::TestApp;
use crate::login::{Cookies, FRIEND, MEMBER, OWNER, SERVER_ID};

const PICKER: &str = "/api/v3/sources/plex/plex_servers/";

/// Plex accounts (owner, member, friend, stranger), a source `plex` to sign in through, a server
/// shared with the owner and a player that is not a server.
async fn setup(app: &TestApp) {
    app.plex_accounts();
    app.plex.share_server("srv-other", OWNER);
    let player = fake_plex::Resource {
        name: "Living room".into(),
        client_identifier: "player-1".into(),
        provides: "player,client".into(),
    };
    app.plex.add_resource(OWNER, player);
    app.plex_source("plex", json!({})).await;
}

/// Signs the owner in and makes them a superuser; returns their browser cookies.
pub async fn admin_cookies(app: &TestApp) -> Cookies {
    let cookies = app.sign_in("plex", OWNER).await;
    let (_, supers) = app.get("/api/v3/core/groups/?is_superuser=true").await;
    let (_, users) = app.get("/api/v3/core/users/?username=owner").await;
    let group = supers["results"][0]["pk"].as_str().unwrap().to_owned();
    let body = json!({"pk": users["results"][0]["pk"]});
    assert_eq!(app.post(&format!("/api/v3/core/groups/{group}/add_user/"), body).await.0, 204);
    cookies
}

/// A page request as the browser with `cookies`: (status, body, Location).
async fn page(
    app: &TestApp,
    cookies: &Cookies,
    method: Method,
    path: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String, String) {
    browse(app, &mut cookies.clone(), method, path, form).await
}

/// [`page`] as a browser that keeps the cookies the answer sets (a message for the next page, a
/// secret to show once).
async fn browse(
    app: &TestApp,
    cookies: &mut Cookies,
    method: Method,
    path: &str,
    form: &[(&str, &str)],
) -> (StatusCode, String, String) {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut request = client
        .request(method, format!("{}{path}", app.base))
        .header("Cookie", cookies.header())
        .header("Accept", "text/html");
    if !form.is_empty() {
        let body: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        request = request.header("Content-Type", "application/x-www-form-urlencoded").body(body);
    }
    let response = request.send().await.unwrap();
    cookies.absorb(&response);
    let status = response.status();
    let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, response.text().await.unwrap(), location)
}

impl TestApp {
    /// The admin token sign-in as a browser: the form is loaded first (its login-CSRF field and
    /// cookie), then posted with `fields`. Returns (status, body, Location, cookies set).
    pub async fn admin_token_form_with(&self, fields: &[(&str, &str)]) -> (StatusCode, String, String, Cookies) {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let form = client.get(format!("{}/if/admin/sign-in", self.base)).send().await.unwrap();
        let mut cookies = Cookies::default();
        cookies.absorb(&form);
        let html = form.text().await.unwrap();
        let marker = "name=\"login_csrf\" value=\"";
        let start = html.find(marker).expect("the login-CSRF field") + marker.len();
        let login_csrf = html[start..].split('"').next().unwrap().to_owned();
        let mut all = vec![("login_csrf", login_csrf.as_str())];
        all.extend_from_slice(fields);
        let body: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(all).finish();
        let response = client
            .post(format!("{}/if/admin/sign-in", self.base))
            .header("Cookie", cookies.header())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_owned()).unwrap_or_default();
        let mut session = Cookies::default();
        session.absorb(&response);
        (status, response.text().await.unwrap(), location, session)
    }

    pub async fn admin_token_form(&self, fields: &[(&str, &str)]) -> (StatusCode, String, String) {
        let (status, html, location, _) = self.admin_token_form_with(fields).await;
        (status, html, location)
    }

    /// A browser signed in to the admin pages with the bootstrap token.
    pub async fn admin_token_session(&self) -> Cookies {
        let (status, html, _, cookies) = self.admin_token_form_with(&[("token", self.token.as_str())]).await;
        assert_eq!(status, 303, "{html}");
        cookies
    }
}

/// `text` as the pages escape it.
fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#x27;")
}

/// The CSRF token a page's forms carry.
fn csrf_of(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("a form with a CSRF field") + 19;
    html[start..].split('"').next().unwrap().to_owned()
}

async fn server_picker(app: &TestApp) {
    setup(app).await;
    let owner_token = app.plex.token_of(OWNER).unwrap();
    let expected = json!([
        {"name": "Allowed", "clientIdentifier": SERVER_ID, "owned": true},
        {"name": "Other", "clientIdentifier": "srv-other", "owned": false}
    ]);
    let (status, servers) = app.post(PICKER, json!({"plex_token": owner_token, "client_id": "form-client"})).await;
    assert_eq!((status.as_u16(), servers.clone()), (200, expected.clone()), "owned and shared servers, no player");
    assert!(!servers.to_string().contains(&owner_token));
    let (status, servers) = app.post(PICKER, json!({"source": "plex"})).await;
    assert_eq!((status.as_u16(), servers), (200, expected), "the stored token lists the same");

    let (status, body) = app.post(PICKER, json!({"plex_token": "not-a-token"})).await;
    assert_eq!(
        (status.as_u16(), body),
        (400, json!({"plex_token": ["plex.tv did not accept this Plex token: sign in with Plex again."]}))
    );
    let (status, body) = app.post(PICKER, json!({})).await;
    assert_eq!((status.as_u16(), body), (400, json!({"non_field_errors": ["Send either plex_token or source."]})));
    let (status, body) = app.post(PICKER, json!({"source": "nope"})).await;
    assert_eq!(status.as_u16(), 404, "{body}");

    // A signed-in user without source permissions may not list anything.
    let mut member = app.sign_in("plex", MEMBER).await;
    let answer = app.browser(&mut member, Method::POST, PICKER, Some(json!({"source": "plex"})), true).await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    let answer = app.browser(&mut member, Method::POST, PICKER, Some(json!({"plex_token": owner_token})), true).await;
    assert_eq!(answer.status, 403, "{}", answer.body);
}
both!(server_picker, server_picker);

async fn source_pages(app: &TestApp) {
    setup(app).await;
    // Who may open the pages.
    let (status, _, location) = page(app, &Cookies::default(), Method::GET, "/if/admin/sources/", &[]).await;
    assert_eq!((status.as_u16(), location.as_str()), (303, "/if/admin/sign-in?next=%2Fif%2Fadmin%2Fsources%2F"));
    let member = app.sign_in("plex", MEMBER).await;
    let (status, html, _) = page(app, &member, Method::GET, "/if/admin/", &[]).await;
    assert_eq!(status, 403, "{html}");
    let admin = admin_cookies(app).await;
    let (status, html, _) = page(app, &admin, Method::GET, "/if/admin/", &[]).await;
    assert_eq!(status, 200);
    assert!(html.contains("<a href=\"/if/admin/sources/\">Plex sources</a>"), "{html}");

    // Create through the form: bad input first (nothing stored), then good.
    let (_, form_html, _) = page(app, &admin, Method::GET, "/if/admin/sources/new", &[]).await;
    let csrf = csrf_of(&form_html);
    let owner_token = app.plex.token_of(OWNER).unwrap();
    assert!(!form_html.contains(&owner_token), "the stored token never reaches a page");
    let before = app.count("/api/v3/sources/plex/").await;
    let (status, html, _) = page(
        app,
        &admin,
        Method::POST,
        "/if/admin/sources/new",
        &[("csrf", &csrf), ("name", ""), ("slug", "bad slug!"), ("plex_token", "")],
    )
    .await;
    assert_eq!(status, 400);
    assert!(html.contains("This field may not be blank."), "{html}");
    assert!(
        html.contains("Enter a valid &quot;slug&quot; consisting of letters, numbers, underscores or hyphens."),
        "{html}"
    );
    assert!(
        html.contains(
            "id=\"name\" name=\"name\" value=\"\" aria-invalid=\"true\" aria-describedby=\"name-hint name-errors\""
        ),
        "{html}"
    );
    assert!(html.contains("value=\"bad slug!\""), "what was typed is kept");
    assert_eq!(app.count("/api/v3/sources/plex/").await, before, "nothing stored");
    let (status, _, _) = page(
        app,
        &admin,
        Method::POST,
        "/if/admin/sources/new",
        &[("csrf", "forged"), ("name", "X"), ("slug", "x"), ("plex_token", "t")],
    )
    .await;
    assert_eq!(status, 403, "a form without this session's CSRF token is refused");

    let fields = [
        ("csrf", csrf.as_str()),
        ("name", "Friends"),
        ("slug", "friends"),
        ("enabled", "on"),
        ("allow_friends", "on"),
        ("plex_token", owner_token.as_str()),
        ("allowed_servers", SERVER_ID),
        ("allowed_servers_other", "srv-typed, srv-other"),
        ("client_id", "admin-form-client"),
        ("user_matching_mode", "identifier"),
        ("group_matching_mode", "identifier"),
        ("policy_engine_mode", "any"),
        ("user_path_template", "goauthentik.io/sources/%(slug)s"),
        ("authentication_flow", ""),
        ("enrollment_flow", ""),
    ];
    let (status, html, location) = page(app, &admin, Method::POST, "/if/admin/sources/new", &fields).await;
    assert_eq!((status.as_u16(), location.as_str()), (303, "/if/admin/sources/friends/"), "{html}");
    let (_, source) = app.get("/api/v3/sources/plex/friends/").await;
    assert_eq!(source["allowed_servers"], json!([SERVER_ID, "srv-typed", "srv-other"]));
    assert_eq!(
        (source["allow_friends"].clone(), source["client_id"].clone()),
        (json!(true), json!("admin-form-client"))
    );
    let stored = app.store.read().source_by_slug("friends").await.unwrap().unwrap();
    assert_eq!(app.secrets.decrypt(&stored.plex_token).unwrap(), owner_token);

    // The source's page and the edit form (servers listed by plexid from the stored token).
    let (status, html, _) = page(app, &admin, Method::GET, "/if/admin/sources/friends/", &[]).await;
    assert_eq!(status, 200);
    assert!(html.contains("Re-authorise with Plex") && html.contains("srv-typed"), "{html}");
    let (_, html, _) = page(app, &admin, Method::GET, "/if/admin/sources/friends/edit", &[]).await;
    assert!(
        html.contains("Allowed (owned)") && html.contains("Other (shared with you)") && !html.contains("Living room"),
        "{html}"
    );
    assert!(html.contains("srv-typed (not listed by Plex)"), "{html}");
    assert!(!html.contains(&owner_token));
    // Saving with an empty token field keeps the stored token; unticked servers go.
    let edit = [
        ("csrf", csrf.as_str()),
        ("name", "Friends and members"),
        ("slug", "friends"),
        ("enabled", "on"),
        ("plex_token", ""),
        ("allowed_servers", SERVER_ID),
        ("client_id", "admin-form-client"),
        ("user_matching_mode", "identifier"),
        ("group_matching_mode", "identifier"),
        ("policy_engine_mode", "any"),
        ("user_path_template", "goauthentik.io/sources/%(slug)s"),
        ("authentication_flow", ""),
        ("enrollment_flow", ""),
    ];
    let (status, _, location) = page(app, &admin, Method::POST, "/if/admin/sources/friends/edit", &edit).await;
    assert_eq!((status.as_u16(), location.as_str()), (303, "/if/admin/sources/friends/"));
    let (_, source) = app.get("/api/v3/sources/plex/friends/").await;
    assert_eq!(
        (source["name"].clone(), source["allowed_servers"].clone(), source["allow_friends"].clone()),
        (json!("Friends and members"), json!([SERVER_ID]), json!(false))
    );
    let stored = app.store.read().source_by_slug("friends").await.unwrap().unwrap();
    assert_eq!(app.secrets.decrypt(&stored.plex_token).unwrap(), owner_token, "the token was kept");

    let (_, html, _) = page(app, &admin, Method::GET, "/if/admin/sources/plex/", &[]).await;
    assert!(html.contains("Connected users (2)") && html.contains("<tr><td>member</td><td>1002</td>"), "{html}");
    // The overview shows each source's last checks (one checked, the other not yet).
    let plex = app.store.read().source_by_slug("plex").await.unwrap().unwrap();
    let mut tx = app.store.begin().await.unwrap();
    tx.conn().save_token_state(plex.id, "rejected", app.state.clock.now()).await.unwrap();
    tx.commit().await.unwrap();
    let (_, html, _) = page(app, &admin, Method::GET, "/if/admin/", &[]).await;
    assert!(html.contains(">Friends and members</a></td><td>not checked yet</td>"), "{html}");
    assert!(html.contains(">Plex plex</a></td><td>rejected by plex.tv: re-authorise with Plex ("), "{html}");

    // Delete: the confirmation says what goes with it; then the source is gone.
    let (status, html, _) = page(app, &admin, Method::GET, "/if/admin/sources/plex/delete", &[]).await;
    assert_eq!(status, 200);
    assert!(html.contains("2 user connections are deleted"), "the owner's and the member's: {html}");
    let (status, _, location) =
        page(app, &admin, Method::POST, "/if/admin/sources/friends/delete", &[("csrf", &csrf)]).await;
    assert_eq!((status.as_u16(), location.as_str()), (303, "/if/admin/sources/"));
    assert_eq!(app.get("/api/v3/sources/plex/friends/").await.0, 404);
    let (status, _, _) = page(app, &admin, Method::GET, "/if/admin/sources/friends/", &[]).await;
    assert_eq!(status, 404);
}
both!(source_pages, source_pages);

/// The first administrator gets in with an API token (the bootstrap token) before any source
/// exists; other tokens and users are refused, and the sign-in is in the audit log.
async fn token_sign_in(app: &TestApp) {
    let (status, html, _) =
        page(app, &Cookies::default(), Method::GET, "/if/admin/sign-in?next=/if/admin/sources/", &[]).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("href=\"/if/flow/default-source-authentication/?next=%2Fif%2Fadmin%2Fsources%2F\""),
        "{html}"
    );
    let (status, html, _) = app.admin_token_form(&[("token", "wrong"), ("next", "/if/admin/")]).await;
    assert_eq!(status, 400);
    assert!(html.contains("This token is not valid."));

    // A user without admin permissions has a valid token but gets no session.
    let (_, plain) = app.post("/api/v3/core/users/", json!({"username": "plain", "name": "P"})).await;
    let (status, token) = app
        .post(
            "/api/v3/core/tokens/",
            json!({"identifier": "plain-token", "user": plain["pk"], "intent": "api", "expiring": false}),
        )
        .await;
    assert_eq!(status, 201, "{token}");
    let (_, key) = app.get("/api/v3/core/tokens/plain-token/view_key/").await;
    let (status, html, _) = app.admin_token_form(&[("token", key["key"].as_str().unwrap())]).await;
    assert_eq!(status, 403, "{html}");
    assert!(html.contains("may not administer plexid"));

    let (status, _, location) =
        app.admin_token_form(&[("token", app.token.as_str()), ("next", "/if/admin/sources/")]).await;
    assert_eq!((status.as_u16(), location.as_str()), (303, "/if/admin/sources/"));
    let cookies = app.admin_token_session().await;
    let (status, html, _) = page(app, &cookies, Method::GET, "/if/admin/sources/", &[]).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("akadmin"), "signed in as the bootstrap token's user");
    // An outside `next`, or one with control characters, is ignored (not a 500).
    for next in ["https://evil.example/", "/if/admin/\r\nSet-Cookie: x=y", "/if/admin/\\evil"] {
        let (status, _, location) = app.admin_token_form(&[("token", app.token.as_str()), ("next", next)]).await;
        assert_eq!((status.as_u16(), location.as_str()), (303, "/if/admin/"), "{next:?}");
    }
    let (_, events) = app.get("/api/v3/events/events/?action=login").await;
    assert_eq!(events["results"][0]["context"]["method"], "api_token", "{events}");
}
both!(token_sign_in, token_sign_in);

/// An application behind forward-auth made in the admin pages: errors of both parts shown with
/// nothing stored (application and provider are written in one transaction), then the
/// application and its provider, live for forward-auth, with the snippets on its page; edited
/// (both parts at once, a refusal changing neither); deleted after the confirmation.
async fn application_pages(app: &TestApp) {
    setup(app).await;
    let admin = admin_cookies(app).await;
    let (status, html, _) = page(app, &admin, Method::GET, "/if/admin/applications/new", &[]).await;
    assert_eq!(status, 200, "{html}");
    let csrf = csrf_of(&html);
    let providers_before = app.count("/api/v3/providers/proxy/").await;
    let bad = [
        ("csrf", csrf.as_str()),
        ("name", "Tautulli"),
        ("slug", "no good"),
        ("external_host", ""),
        ("mode", "forward_single"),
        ("policy_engine_mode", "any"),
    ];
    let (status, html, _) = page(app, &admin, Method::POST, "/if/admin/applications/new", &bad).await;
    assert_eq!(status, 400);
    assert!(html.contains("id=\"external_host-errors\"><li>This field may not be blank."), "{html}");
    assert_eq!(app.count("/api/v3/providers/proxy/").await, providers_before, "no provider left behind");
    let bad_slug = [
        ("csrf", csrf.as_str()),
        ("name", "Tautulli"),
        ("slug", "no good"),
        ("external_host", "http://app.test"),
        ("mode", "forward_single"),
        ("policy_engine_mode", "any"),
    ];
    let (status, html, _) = page(app, &admin, Method::POST, "/if/admin/applications/new", &bad_slug).await;
    assert_eq!(status, 400);
    assert!(html.contains("id=\"slug-errors\""), "{html}");
    assert_eq!(app.count("/api/v3/providers/proxy/").await, providers_before, "no provider written");
    // A slug already taken: refused before anything is written.
    let (_, _) = app.post("/api/v3/core/applications/", json!({"name": "Taken", "slug": "taken"})).await;
    let taken = [
        ("csrf", csrf.as_str()),
        ("name", "Tautulli"),
        ("slug", "taken"),
        ("external_host", "http://app.test"),
        ("mode", "forward_single"),
        ("policy_engine_mode", "any"),
    ];
    let (status, html, _) = page(app, &admin, Method::POST, "/if/admin/applications/new", &taken).await;
    assert_eq!(status, 400);
    assert!(html.contains("Application with this slug already exists."), "{html}");
    assert_eq!(app.count("/api/v3/providers/proxy/").await, providers_before, "no provider written");

    let good = [
        ("csrf", csrf.as_str()),
        ("name", "Tautulli"),
        ("slug", "tautulli"),
        ("external_host", "http://app.test"),
        ("mode", "forward_single"),
        ("cookie_domain", ""),
        ("access_relationships", "friend"),
        ("access_relationships", "server_member"),
        ("access_servers", SERVER_ID),
        ("policy_engine_mode", "any"),
    ];
    let (status, html, location) = page(app, &admin, Method::POST, "/if/admin/applications/new", &good).await;
    assert_eq!((status.as_u16(), location.as_str()), (303, "/if/admin/applications/tautulli/"), "{html}");
    let (_, created) = app.get("/api/v3/core/applications/tautulli/").await;
    assert_eq!(created["access_relationships"], json!(["friend", "server_member"]));
    assert_eq!(created["access_servers"], json!([SERVER_ID]));
    assert_eq!(
        (created["provider_obj"]["name"].clone(), created["launch_url"].clone()),
        (json!("Tautulli"), json!("http://app.test")),
        "{created}"
    );
    // Live for forward-auth: nobody signed in is asked to sign in; an unknown host is not ours.
    let original = [("X-Original-URL", "http://app.test/x")];
    let (status, _) = crate::forward_auth::proxied(
        app,
        "plexid.internal",
        "/outpost.goauthentik.io/auth/nginx",
        &Cookies::default(),
        &original,
    )
    .await;
    assert_eq!(status, 401);
    let (status, html, _) = page(app, &admin, Method::GET, "/if/admin/applications/tautulli/", &[]).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("server_name app.test;") && html.contains("auth/caddy") && html.contains("auth/traefik"),
        "{html}"
    );
    assert!(
        html.contains("The owner&#x27;s Plex friends; members of srv-allowed (Plex relationships through"),
        "{html}"
    );
    assert!(html.contains("href=\"/if/admin/applications/tautulli/edit\""), "{html}");

    // Editing: the form is filled from both parts; a refusal of either changes neither.
    let (status, html, _) = page(app, &admin, Method::GET, "/if/admin/applications/tautulli/edit", &[]).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("value=\"http://app.test\"") && html.contains("value=\"Tautulli\""), "{html}");
    assert!(html.contains("value=\"friend\" checked"), "{html}");
    let csrf_ref = csrf.as_str();
    let edit = |host: &'static str, slug: &'static str| {
        [
            ("csrf", csrf_ref),
            ("name", "Tautulli 2"),
            ("slug", slug),
            ("external_host", host),
            ("mode", "forward_single"),
            ("access_relationships", "friend"),
            ("policy_engine_mode", "all"),
        ]
    };
    for (host, slug, field) in [("", "tautulli-2", "external_host"), ("http://app2.test", "taken", "slug")] {
        let (status, html, _) =
            page(app, &admin, Method::POST, "/if/admin/applications/tautulli/edit", &edit(host, slug)).await;
        assert_eq!(status, 400, "{html}");
        assert!(html.contains(&format!("id=\"{field}-errors\"")), "{html}");
        let (_, stored) = app.get("/api/v3/core/applications/tautulli/").await;
        assert_eq!(
            (stored["name"].clone(), stored["launch_url"].clone()),
            (json!("Tautulli"), json!("http://app.test"))
        );
    }
    let (status, html, location) = page(
        app,
        &admin,
        Method::POST,
        "/if/admin/applications/tautulli/edit",
        &edit("http://app2.test", "tautulli-2"),
    )
    .await;
    assert_eq!((status.as_u16(), location.as_str()), (303, "/if/admin/applications/tautulli-2/"), "{html}");
    let (_, edited) = app.get("/api/v3/core/applications/tautulli-2/").await;
    assert_eq!(edited["access_relationships"], json!(["friend"]), "{edited}");
    assert_eq!(edited["access_servers"], json!([]), "{edited}");
    assert_eq!(edited["policy_engine_mode"], "all");
    assert_eq!(
        (edited["provider_obj"]["name"].clone(), edited["launch_url"].clone()),
        (json!("Tautulli 2"), json!("http://app2.test")),
        "{edited}"
    );

    // Deleted without its provider (the box unticked): the provider stays, unassigned.
    let (status, html, _) = page(app, &admin, Method::GET, "/if/admin/applications/tautulli-2/delete", &[]).await;
    assert_eq!(status, 200);
    assert!(html.contains("Delete its provider, Tautulli 2, too") && html.contains("form=\"delete-form\""), "{html}");
    let (status, _, location) =
        page(app, &admin, Method::POST, "/if/admin/applications/tautulli-2/delete", &[("csrf", &csrf)]).await;
    assert_eq!((status.as_u16(), location.as_str()), (303, "/if/admin/applications/"));
    assert_eq!(app.get("/api/v3/core/applications/tautulli-2/").await.0, 404);
    assert_eq!(app.count("/api/v3/providers/proxy/").await, providers_before + 1, "the provider stays");
}
both!(application_pages, application_pages);

/// Property mappings in the admin pages: a syntax error shown at the expression with nothing
/// saved, the test panel against sample Plex user JSON, and deletion naming the sources that use
/// the mapping.
async fn mapping_pages(app: &TestApp) {
    setup(app).await;
    let admin = admin_cookies(app).await;
    let (status, html, _) = page(app, &admin, Method::GET, "/if/admin/mappings/new", &[]).await;
    assert_eq!(status, 200, "{html}");
    let csrf = csrf_of(&html);
    let before = app.count("/api/v3/propertymappings/source/plex/").await;
    let broken = [("csrf", csrf.as_str()), ("name", "Broken"), ("expression", "return {")];
    let (status, html, _) = page(app, &admin, Method::POST, "/if/admin/mappings/new", &broken).await;
    assert_eq!(status, 400);
    assert!(html.contains("id=\"expression-errors\"><li>Expression Syntax Error"), "{html}");
    assert!(html.contains("return {</textarea>"), "the expression typed is kept");
    assert_eq!(app.count("/api/v3/propertymappings/source/plex/").await, before);

    let good = [
        ("csrf", csrf.as_str()),
        ("name", "Display name"),
        ("expression", "return {\"name\": info[\"title\"] + \"!\"}"),
    ];
    let (status, _, location) = page(app, &admin, Method::POST, "/if/admin/mappings/new", &good).await;
    assert_eq!(status, 303);
    assert!(location.starts_with("/if/admin/mappings/"), "{location}");
    let (status, html, _) = page(
        app,
        &admin,
        Method::POST,
        &format!("{location}test"),
        &[("csrf", &csrf), ("info", "{\"title\": \"Jane\"}")],
    )
    .await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("<h3>Result</h3><pre><code>{\n  &quot;name&quot;: &quot;Jane!&quot;\n}</code></pre>"),
        "{html}"
    );
    let (_, html, _) =
        page(app, &admin, Method::POST, &format!("{location}test"), &[("csrf", &csrf), ("info", "{}")]).await;
    assert!(html.contains("The expression failed"), "a missing key fails the expression: {html}");
    let (status, html, _) =
        page(app, &admin, Method::POST, &format!("{location}test"), &[("csrf", &csrf), ("info", "not json")]).await;
    assert_eq!(status, 400);
    assert!(html.contains("Enter a JSON object."), "{html}");
    // An unsaved edit is tested as it stands in the editor, kept there, and not saved.
    let unsaved = "return {\"name\": info[\"title\"] + \"?\"}";
    let fields =
        [("csrf", csrf.as_str()), ("name", "Display name"), ("expression", unsaved), ("info", "{\"title\": \"Jane\"}")];
    let (status, html, _) = page(app, &admin, Method::POST, &format!("{location}test"), &fields).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("&quot;name&quot;: &quot;Jane?&quot;"), "{html}");
    assert!(
        html.contains("info[&quot;title&quot;] + &quot;?&quot;}</textarea>"),
        "the edit stays in the editor: {html}"
    );
    let pk = location.trim_start_matches("/if/admin/mappings/").trim_end_matches('/').to_owned();
    let (_, stored) = app.get(&format!("/api/v3/propertymappings/source/plex/{pk}/")).await;
    assert!(stored["expression"].as_str().unwrap().contains("+ \"!\""), "not saved: {stored}");

    assert_eq!(app.patch("/api/v3/sources/plex/plex/", json!({"user_property_mappings": [pk]})).await.0, 200);
    let (_, html, _) = page(app, &admin, Method::GET, &format!("{location}delete"), &[]).await;
    assert!(html.contains("These sources stop using it:</p><ul id=\"cascade\"><li>Plex plex</li>"), "{html}");
    let (status, _, _) = page(app, &admin, Method::POST, &format!("{location}delete"), &[("csrf", &csrf)]).await;
    assert_eq!(status, 303);
    let (_, source) = app.get("/api/v3/sources/plex/plex/").await;
    assert_eq!(source["user_property_mappings"], json!([]));
}
both!(mapping_pages, mapping_pages);

/// The admin pages refuse what would overflow a parser's stack (issue 19) at the expression, in
/// the editor and in the test panel's unsaved edit, and keep answering.
async fn deep_expressions_in_mapping_pages(app: &TestApp) {
    setup(app).await;
    let admin = admin_cookies(app).await;
    let (_, html, _) = page(app, &admin, Method::GET, "/if/admin/mappings/new", &[]).await;
    let csrf = csrf_of(&html);
    let deep = format!("return {}1", "-".repeat(50_000));
    let fields = [("csrf", csrf.as_str()), ("name", "Deep"), ("expression", deep.as_str())];
    let (status, html, _) = page(app, &admin, Method::POST, "/if/admin/mappings/new", &fields).await;
    assert_eq!(status, 400);
    assert!(html.contains("<li>Expression Syntax Error: expression nested too deeply"), "{}", &html[..2000]);
    let good = [("csrf", csrf.as_str()), ("name", "Fine"), ("expression", "return {}")];
    let (_, _, location) = page(app, &admin, Method::POST, "/if/admin/mappings/new", &good).await;
    let brackets = format!("return {}1{}", "(".repeat(10_000), ")".repeat(10_000));
    for expression in [&deep, &brackets] {
        let fields = [("csrf", csrf.as_str()), ("name", "Fine"), ("expression", expression), ("info", "{}")];
        let (status, html, _) = page(app, &admin, Method::POST, &format!("{location}test"), &fields).await;
        assert_eq!(status, 200);
        assert!(html.contains("The expression failed"), "{}", &html[..2000]);
        // On the editor's line (the API keeps authentik's count, one more).
        assert!(html.contains("expression nested too deeply (more than 500 levels) (None, line 1)"));
        assert_eq!(reqwest::get(format!("{}/-/health/live/", app.base)).await.unwrap().status(), 200);
    }
    let long = "#".repeat(plexid_mapping::MAX_EXPRESSION_CHARS + 1);
    let fields = [("csrf", csrf.as_str()), ("name", "Fine"), ("expression", long.as_str()), ("info", "{}")];
    let (status, html, _) = page(app, &admin, Method::POST, &format!("{location}test"), &fields).await;
    assert_eq!(status, 400);
    assert!(html.contains("Ensure this field has no more than 65536 characters."));
}
both!(deep_expressions_in_mapping_pages, deep_expressions_in_mapping_pages);

/// A user's page: their Plex relationship and browsers; ending one session, making them an
/// administrator through the groups form and back, and signing them out everywhere.
async fn user_pages(app: &TestApp) {
    setup(app).await;
    let admin = admin_cookies(app).await;
    let mut member = app.sign_in("plex", MEMBER).await;
    let mut member_other = app.sign_in("plex", MEMBER).await;
    let (_, users) = app.get("/api/v3/core/users/?username=member").await;
    let pk = users["results"][0]["pk"].as_i64().unwrap();
    let (status, html, _) = page(app, &admin, Method::GET, "/if/admin/users/?search=mem", &[]).await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!("<a href=\"/if/admin/users/{pk}/\">member</a>")), "{html}");
    let user_page = format!("/if/admin/users/{pk}/");
    let (status, html, _) = page(app, &admin, Method::GET, &user_page, &[]).await;
    assert_eq!(status, 200);
    assert!(html.contains("member of srv-allowed"), "the Plex relationship: {html}");
    let csrf = csrf_of(&html);
    let sessions = format!("{user_page}sessions/");
    let first_end =
        html.find(&sessions).map(|i| &html[i + sessions.len()..i + sessions.len() + 36]).unwrap().to_owned();
    assert_eq!(html.matches("/end\">").count(), 2, "two browsers: {html}");

    // End one browser's session: exactly one of the member's two sessions stops working.
    let (status, _, _) =
        page(app, &admin, Method::POST, &format!("{user_page}sessions/{first_end}/end"), &[("csrf", &csrf)]).await;
    assert_eq!(status, 303);
    let alive = [app.me(&mut member).await.is_some(), app.me(&mut member_other).await.is_some()];
    assert_eq!(alive.iter().filter(|a| **a).count(), 1, "{alive:?}");

    // Make the member an administrator, then not: the group list starts on no group, and a
    // change of administrators is asked first; nothing changes until it is confirmed.
    assert!(
        html.contains("<select id=\"group\" name=\"group\"><option value=\"\" selected>Choose a group…</option>"),
        "{html}"
    );
    let (_, supers) = app.get("/api/v3/core/groups/?is_superuser=true").await;
    let group = supers["results"][0]["pk"].as_str().unwrap().to_owned();
    let add = format!("{user_page}groups");
    let (status, _, location) = page(app, &admin, Method::POST, &add, &[("csrf", &csrf), ("group", "")]).await;
    assert_eq!((status.as_u16(), location.as_str()), (303, user_page.as_str()), "no group chosen: nothing done");
    let (status, html, _) = page(app, &admin, Method::POST, &add, &[("csrf", &csrf), ("group", &group)]).await;
    assert_eq!(status, 200);
    assert!(html.contains("<h1>Make member an administrator?</h1>"), "{html}");
    assert!(html.contains(&format!("<input type=\"hidden\" name=\"group\" value=\"{group}\">")), "{html}");
    let signed_in = if alive[0] { &member } else { &member_other };
    assert_eq!(page(app, signed_in, Method::GET, "/if/admin/", &[]).await.0, 403, "not yet");
    let mut browser = admin.clone();
    let confirmed = [("csrf", csrf.as_str()), ("group", group.as_str()), ("confirm", "yes")];
    let (status, _, location) = browse(app, &mut browser, Method::POST, &add, &confirmed).await;
    assert_eq!((status.as_u16(), location.as_str()), (303, user_page.as_str()));
    let (_, html, _) = browse(app, &mut browser, Method::GET, &user_page, &[]).await;
    assert!(html.contains("member is now an administrator (a member of authentik Admins)."), "{html}");
    assert_eq!(page(app, signed_in, Method::GET, "/if/admin/", &[]).await.0, 200, "now an administrator");
    let (_, events) = app.get(&format!("/api/v3/events/events/?action=model_updated&context_model_pk={group}")).await;
    assert_eq!(events["results"][0]["context"]["diff"], json!({"users": {"add": [pk]}}), "{events}");
    assert_eq!(events["results"][0]["user"]["username"], "owner", "{events}");
    let remove = format!("{user_page}groups/{group}/remove");
    let (status, html, _) = page(app, &admin, Method::POST, &remove, &[("csrf", &csrf)]).await;
    assert_eq!(status, 200);
    assert!(html.contains("<h1>Remove member&#x27;s administration rights?</h1>"), "{html}");
    let (status, _, _) = page(app, &admin, Method::POST, &remove, &[("csrf", &csrf), ("confirm", "yes")]).await;
    assert_eq!(status, 303);
    assert_eq!(page(app, signed_in, Method::GET, "/if/admin/", &[]).await.0, 403, "no longer");

    // The signed-in administrator cannot take their own rights away (nor lock plexid out).
    let (_, owners) = app.get("/api/v3/core/users/?username=owner").await;
    let owner_page = format!("/if/admin/users/{}/", owners["results"][0]["pk"]);
    let own = format!("{owner_page}groups/{group}/remove");
    let (status, _, location) =
        browse(app, &mut browser, Method::POST, &own, &[("csrf", &csrf), ("confirm", "yes")]).await;
    assert_eq!((status.as_u16(), location.as_str()), (303, owner_page.as_str()));
    let (_, html, _) = browse(app, &mut browser, Method::GET, &owner_page, &[]).await;
    assert!(html.contains(&format!("role=\"alert\"><p>{}</p>", html_escape(plexid_core::rules::OWN_ADMIN))), "{html}");
    assert_eq!(page(app, &admin, Method::GET, "/if/admin/", &[]).await.0, 200, "still an administrator");

    // Deactivated, the member's sign-ins stop working; activated, they may sign in again.
    let deactivate = [("csrf", csrf.as_str()), ("active", "off")];
    let (status, _, _) = page(app, &admin, Method::POST, &format!("{user_page}active"), &deactivate).await;
    assert_eq!(status, 303);
    assert!(app.me(&mut signed_in.clone()).await.is_none(), "deactivated");
    let (_, html, _) = page(app, &admin, Method::GET, &user_page, &[]).await;
    assert!(html.contains("inactive") && html.contains(">Activate</button>"), "{html}");
    let activate = [("csrf", csrf.as_str()), ("active", "on")];
    assert_eq!(page(app, &admin, Method::POST, &format!("{user_page}active"), &activate).await.0, 303);
    assert!(app.me(&mut signed_in.clone()).await.is_some(), "active again");

    // Sign out everywhere.
    let (status, _, _) =
        page(app, &admin, Method::POST, &format!("{user_page}sessions/end-all"), &[("csrf", &csrf)]).await;
    assert_eq!(status, 303);
    assert!(app.me(&mut member).await.is_none() && app.me(&mut member_other).await.is_none());
    let (_, html, _) = page(app, &admin, Method::GET, &user_page, &[]).await;
    assert_eq!(html.matches("/end\">").count(), 0, "{html}");
}
both!(user_pages, user_pages);

/// The audit log page: filtered by action and username, each event's context on demand.
async fn event_pages(app: &TestApp) {
    setup(app).await;
    let admin = admin_cookies(app).await;
    app.sign_in("plex", MEMBER).await;
    let (status, html, _) = page(app, &admin, Method::GET, "/if/admin/events/?action=login&username=member", &[]).await;
    assert_eq!(status, 200);
    assert!(html.contains("<p class=\"muted\">1 event.</p>"), "{html}");
    assert!(
        html.contains("<td>Sign-in (login)</td><td>member</td>") && html.contains("<summary>Context</summary>"),
        "{html}"
    );
    let (_, html, _) = page(app, &admin, Method::GET, "/if/admin/events/?action=login", &[]).await;
    assert!(html.contains("<p class=\"muted\">2 events.</p>"), "the owner and the member: {html}");
    let (_, html, _) = page(app, &admin, Method::GET, "/if/admin/events/?username=nobody", &[]).await;
    assert!(html.contains("<p class=\"muted\">0 events.</p>"), "{html}");
    // The filter offers the actions that occur, in words.
    assert!(html.contains("<option value=\"login\">Sign-in (login)</option>"), "{html}");
    assert!(!html.contains("value=\"login_failed\"") && !html.contains("value=\"impersonation_started\""), "{html}");

    // The overview counts sign-ins and refusals of the last day; a refusal's row names the
    // Plex account and the reason.
    let refused = app.redeem(&mut Cookies::default(), "plex", crate::login::STRANGER).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    let (_, html, _) = page(app, &admin, Method::GET, "/if/admin/events/?action=login_failed", &[]).await;
    assert!(html.contains("<option value=\"login_failed\" selected>Refused sign-in (login_failed)</option>"), "{html}");
    assert!(
        html.contains("<td><span class=\"muted\">Plex:</span> stranger</td><td>Your Plex account does not"),
        "{html}"
    );
    let (status, html, _) = page(app, &admin, Method::GET, "/if/admin/", &[]).await;
    assert_eq!(status, 200);
    assert!(html.contains("2 sign-ins</span> · <span class=\"key-refused\">1 refusal"), "{html}");
    assert!(html.contains(">24 h ago</text>") && html.contains(">now</text>"), "the chart's axis: {html}");
    assert!(html.contains("aria-label=\"2 sign-ins and 1 refusals in the last 24 hours, by hour\""), "{html}");
}
both!(event_pages, event_pages);

/// API tokens in the admin pages: the key shown once (and not cached), working; revoking it
/// after the confirmation stops it at once.
async fn token_pages(app: &TestApp) {
    setup(app).await;
    let admin = admin_cookies(app).await;
    let (_, html, _) = page(app, &admin, Method::GET, "/if/admin/tokens/new", &[]).await;
    let csrf = csrf_of(&html);
    let (status, html, _) =
        page(app, &admin, Method::POST, "/if/admin/tokens/new", &[("csrf", &csrf), ("identifier", "")]).await;
    assert_eq!(status, 400);
    assert!(html.contains("id=\"identifier-errors\"><li>This field may not be blank."), "{html}");

    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("csrf", csrf.as_str()), ("identifier", "ci-robot"), ("description", "for CI")])
        .finish();
    let response = client
        .post(format!("{}/if/admin/tokens/new", app.base))
        .header("Cookie", admin.header())
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    // The form's answer is a redirect (a reload makes no second token) to the key's page, which
    // says what was done.
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/if/admin/tokens/ci-robot/key");
    let mut with_message = admin.clone();
    with_message.absorb(&response);
    let response = client
        .get(format!("{}/if/admin/tokens/ci-robot/key", app.base))
        .header("Cookie", with_message.header())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let html = response.text().await.unwrap();
    assert!(html.contains("role=\"status\"><p>Created the API token ci-robot.</p>"), "{html}");
    assert!(html.contains("data-copy=\"token-key\""), "a Copy button: {html}");
    let start = html.find("<code id=\"token-key\">").unwrap() + 21;
    let key = html[start..].split('<').next().unwrap().to_owned();
    assert_eq!(key.len(), 64, "{key}");
    let me = |key: String| {
        let client = client.clone();
        let url = format!("{}/api/v3/core/users/me/", app.base);
        async move { client.get(url).bearer_auth(key).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(me(key.clone()).await, 200, "the key works");
    // A new token lasts 30 days unless the form says otherwise.
    let (_, stored) = app.get("/api/v3/core/tokens/ci-robot/").await;
    let expires = plexid_server::clock::parse_iso8601(stored["expires"].as_str().unwrap()).unwrap();
    let days = expires.duration_since(app.state.clock.now()).as_hours() / 24;
    assert!(stored["expiring"] == json!(true) && (29..=30).contains(&days), "{stored}");
    let (_, html, _) = page(app, &admin, Method::GET, "/if/admin/tokens/", &[]).await;
    assert!(html.contains("<a href=\"/if/admin/tokens/ci-robot/\">ci-robot</a>"), "{html}");
    assert!(!html.contains(&key), "the key is not shown again");
    assert!(html.contains("ci-robot</a></td><td>owner</td><td>api</td>"), "{html}");

    // Edited: a bad date is refused with nothing changed; then the description set and the
    // expiry removed.
    let (status, html, _) = page(app, &admin, Method::GET, "/if/admin/tokens/ci-robot/edit", &[]).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("value=\"for CI\""), "{html}");
    let bad = [("csrf", csrf.as_str()), ("description", "CI"), ("expiring", "on"), ("expires", "tomorrow")];
    let (status, html, _) = page(app, &admin, Method::POST, "/if/admin/tokens/ci-robot/edit", &bad).await;
    assert_eq!(status, 400);
    assert!(html.contains("id=\"expires-errors\""), "{html}");
    assert_eq!(app.get("/api/v3/core/tokens/ci-robot/").await.1["description"], "for CI");
    let good = [("csrf", csrf.as_str()), ("description", "CI robot"), ("expires", "")];
    let (status, _, location) = page(app, &admin, Method::POST, "/if/admin/tokens/ci-robot/edit", &good).await;
    assert_eq!((status.as_u16(), location.as_str()), (303, "/if/admin/tokens/ci-robot/"));
    let (_, stored) = app.get("/api/v3/core/tokens/ci-robot/").await;
    assert_eq!(
        (stored["description"].clone(), stored["expiring"].clone()),
        (json!("CI robot"), json!(false)),
        "{stored}"
    );
    assert_eq!(me(key.clone()).await, 200, "the key still works");
    let dated =
        [("csrf", csrf.as_str()), ("description", "CI robot"), ("expiring", "on"), ("expires", "2030-01-01T00:00:00Z")];
    assert_eq!(page(app, &admin, Method::POST, "/if/admin/tokens/ci-robot/edit", &dated).await.0, 303);
    let (_, stored) = app.get("/api/v3/core/tokens/ci-robot/").await;
    assert!(
        stored["expiring"] == json!(true) && stored["expires"].as_str().unwrap().starts_with("2030-01-01T00:00:00"),
        "{stored}"
    );

    let (status, html, _) = page(app, &admin, Method::GET, "/if/admin/tokens/ci-robot/delete", &[]).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("<h1>Revoke ci-robot?</h1>") && html.contains(">Revoke ci-robot</button>"), "{html}");
    let (status, _, location) =
        page(app, &admin, Method::POST, "/if/admin/tokens/ci-robot/delete", &[("csrf", &csrf)]).await;
    assert_eq!((status.as_u16(), location.as_str()), (303, "/if/admin/tokens/"));
    assert_eq!(me(key).await, 403, "revoked");
}
both!(token_pages, token_pages);

/// An OpenID Connect application made in the admin pages: the client secret shown once (not
/// cached) and matching the stored one; the application's page lists the endpoints; a public
/// client has no secret.
async fn oidc_application_pages(app: &TestApp) {
    setup(app).await;
    let admin = admin_cookies(app).await;
    let (status, html, _) = page(app, &admin, Method::GET, "/if/admin/applications/new?kind=oidc", &[]).await;
    assert_eq!(status, 200);
    assert!(html.contains("name=\"kind\" value=\"oidc\"") && html.contains("id=\"redirect_uris\""), "{html}");
    let csrf = csrf_of(&html);
    let form = |slug: &'static str, client_type: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("kind", "oidc".into()),
            ("name", format!("RP {slug}")),
            ("slug", slug.into()),
            ("client_type", client_type.into()),
            ("redirect_uris", "https://rp.test/callback".into()),
            ("policy_engine_mode", "any".into()),
        ]
    };
    let fields = form("rp", "confidential");
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // The form's answer is a redirect to the page that shows the secret, this once.
    let mut browser = admin.clone();
    let (status, html, location) = browse(app, &mut browser, Method::POST, "/if/admin/applications/new", &fields).await;
    assert_eq!((status.as_u16(), location.as_str()), (303, "/if/admin/applications/rp/secret"), "{html}");
    let (status, html, _) = browse(app, &mut browser, Method::GET, &location, &[]).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("<p>Created the application RP rp.</p>"), "{html}");
    let start = html.find("<code id=\"client-secret\">").unwrap() + "<code id=\"client-secret\">".len();
    let secret = html[start..].split('<').next().unwrap().to_owned();
    assert_eq!(secret.len(), 128);
    assert!(html.contains("/application/o/rp/.well-known/openid-configuration"), "{html}");
    let (_, providers) = app.get("/api/v3/providers/oauth2/?search=RP").await;
    let stored = &providers["results"][0];
    assert!(stored["redirect_uris"].to_string().contains("https://rp.test/callback"), "{stored}");
    assert!(!providers.to_string().contains(&secret), "the secret is not readable afterwards");
    let (status, html, _) = browse(app, &mut browser, Method::GET, "/if/admin/applications/rp/", &[]).await;
    assert_eq!(status, 200);
    let client_id = stored["client_id"].as_str().unwrap();
    assert!(html.contains(&format!("<code id=\"oidc-client-id\">{client_id}</code>")), "{html}");
    assert!(html.contains("data-copy=\"oidc-client-id\"") && !html.contains("id=\"public-url-notice\""), "{html}");
    // Once the application's page was shown, the secret is gone from the browser too.
    let (_, html, _) = browse(app, &mut browser, Method::GET, "/if/admin/applications/rp/secret", &[]).await;
    assert!(!html.contains(&secret) && html.contains("is not kept in full"), "{html}");
    assert!(html.contains(&format!("ends in <code>{}</code>", &secret[124..])), "{html}");
    assert!(!html.contains(&secret));
    // Edited: the redirect URIs change, the client keeps its id and its secret.
    let mut fields = form("rp", "confidential");
    fields[5].1 = "https://rp.test/callback\nhttps://rp.test/other".into();
    fields[1].1 = "proxy".into(); // the kind is the stored provider's, whatever the form says
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, html, location) = page(app, &admin, Method::POST, "/if/admin/applications/rp/edit", &fields).await;
    assert_eq!((status.as_u16(), location.as_str()), (303, "/if/admin/applications/rp/"), "{html}");
    let (_, providers) = app.get("/api/v3/providers/oauth2/?search=RP").await;
    let edited = &providers["results"][0];
    assert!(edited["redirect_uris"].to_string().contains("https://rp.test/other"), "{edited}");
    assert_eq!(edited["client_id"], stored["client_id"]);
    let (_, html, _) = page(app, &admin, Method::GET, "/if/admin/applications/rp/", &[]).await;
    assert!(html.contains(&format!("ends in <code>{}</code>", &secret[124..])), "{html}");

    // Deleted with its provider (the box ticked): both go, in one transaction.
    let oauth2_before = app.count("/api/v3/providers/oauth2/").await;
    let (status, _, _) = page(
        app,
        &admin,
        Method::POST,
        "/if/admin/applications/rp/delete",
        &[("csrf", csrf.as_str()), ("with_provider", "on")],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(app.get("/api/v3/core/applications/rp/").await.0, 404);
    assert_eq!(app.count("/api/v3/providers/oauth2/").await, oauth2_before - 1, "the provider went too");

    let fields = form("spa", "public");
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _, location) = page(app, &admin, Method::POST, "/if/admin/applications/new", &fields).await;
    assert_eq!(
        (status.as_u16(), location.as_str()),
        (303, "/if/admin/applications/spa/"),
        "a public client has no secret to show"
    );
}
both!(oidc_application_pages, oidc_application_pages);

/// Groups in the admin pages: a blank name refused, a group and a subgroup made, a parent cycle
/// refused with nothing changed, members added by username (an unknown one refused) and removed,
/// and deletion after the confirmation (the subgroup stays, without its parent).
async fn group_pages(app: &TestApp) {
    setup(app).await;
    let admin = admin_cookies(app).await;
    app.sign_in("plex", MEMBER).await;
    let (status, html, _) = page(app, &admin, Method::GET, "/if/admin/groups/", &[]).await;
    assert_eq!(status, 200);
    assert!(html.contains("href=\"/if/admin/groups/new\""), "{html}");
    let (status, html, _) = page(app, &admin, Method::GET, "/if/admin/groups/new", &[]).await;
    assert_eq!(status, 200);
    assert!(html.contains("id=\"is_superuser\""), "a superuser may make administrator groups: {html}");
    let csrf = csrf_of(&html);
    let before = app.count("/api/v3/core/groups/").await;
    let new =
        |name: &str, parent: &str| [("csrf", csrf.clone()), ("name", name.to_owned()), ("parent", parent.to_owned())];
    let cookies = &admin;
    let post = move |path: String, fields: [(&'static str, String); 3]| async move {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        page(app, cookies, Method::POST, &path, &fields).await
    };
    let (status, html, _) = post("/if/admin/groups/new".into(), new("", "")).await;
    assert_eq!(status, 400);
    assert!(html.contains("id=\"name-errors\"><li>This field may not be blank."), "{html}");
    assert_eq!(app.count("/api/v3/core/groups/").await, before);

    let (status, _, family) = post("/if/admin/groups/new".into(), new("Family", "")).await;
    assert_eq!(status, 303);
    let family_id = family.trim_start_matches("/if/admin/groups/").trim_end_matches('/').to_owned();
    let (status, _, kids) = post("/if/admin/groups/new".into(), new("Kids", &family_id)).await;
    assert_eq!(status, 303);
    let kids_id = kids.trim_start_matches("/if/admin/groups/").trim_end_matches('/').to_owned();
    let (_, stored) = app.get(&format!("/api/v3/core/groups/{kids_id}/")).await;
    assert_eq!((stored["name"].as_str(), stored["parent"].as_str()), (Some("Kids"), Some(family_id.as_str())));
    let (status, html, _) = page(app, &admin, Method::GET, &kids, &[]).await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!("<a href=\"{family}\">Family</a>")), "{html}");

    // Family under Kids would be a cycle: refused, nothing changed.
    let (status, html, _) = post(format!("{family}edit"), new("Family renamed", &kids_id)).await;
    assert_eq!(status, 400);
    assert!(html.contains("Cannot set group as parent of itself"), "{html}");
    let (_, stored) = app.get(&format!("/api/v3/core/groups/{family_id}/")).await;
    assert_eq!((stored["name"].as_str(), stored["parent"].clone()), (Some("Family"), json!(null)));
    let (status, _, location) = post(format!("{family}edit"), new("Household", "")).await;
    assert_eq!((status.as_u16(), location.as_str()), (303, family.as_str()));

    // Members.
    let (_, members) = app.get("/api/v3/core/users/?username=member").await;
    let member_pk = members["results"][0]["pk"].as_i64().unwrap();
    let add = |name: &str| [("csrf", csrf.clone()), ("username", name.to_owned()), ("x", String::new())];
    let (status, html, _) = post(format!("{family}members"), add("nobody-here")).await;
    assert_eq!(status, 400);
    assert!(html.contains("no user named"), "{html}");
    let (status, _, location) = post(format!("{family}members"), add("member")).await;
    assert_eq!((status.as_u16(), location.as_str()), (303, family.as_str()));
    let (_, stored) = app.get(&format!("/api/v3/core/groups/{family_id}/")).await;
    assert_eq!(stored["users"], json!([member_pk]), "{stored}");
    let (_, html, _) = page(app, &admin, Method::GET, &family, &[]).await;
    assert!(html.contains(&format!("action=\"{family}members/{member_pk}/remove\"")), "{html}");
    let remove = [("csrf", csrf.as_str())];
    let (status, _, _) = page(app, &admin, Method::POST, &format!("{family}members/{member_pk}/remove"), &remove).await;
    assert_eq!(status, 303);
    let (_, stored) = app.get(&format!("/api/v3/core/groups/{family_id}/")).await;
    assert_eq!(stored["users"], json!([]), "{stored}");

    let (status, html, _) = page(app, &admin, Method::GET, &format!("{family}delete"), &[]).await;
    assert_eq!(status, 200);
    assert!(html.contains("subgroups lose their parent") && html.contains("Delete Household"), "{html}");
    let (status, _, location) = page(app, &admin, Method::POST, &format!("{family}delete"), &remove).await;
    assert_eq!((status.as_u16(), location.as_str()), (303, "/if/admin/groups/"));
    assert_eq!(app.get(&format!("/api/v3/core/groups/{family_id}/")).await.0, 404);
    let (_, stored) = app.get(&format!("/api/v3/core/groups/{kids_id}/")).await;
    assert_eq!(stored["parent"], json!(null));
}
both!(group_pages, group_pages);

/// The first session's End form on the sessions page.
fn end_action(html: &str) -> String {
    let end = html.find("/end\"").expect("an End button") + "/end".len();
    let start = html[..end].rfind("action=\"").unwrap() + "action=\"".len();
    html[start..end].to_owned()
}

/// The sessions page: every live sign-in with its user, searchable; ending one ends only that
/// browser's session.
async fn session_pages(app: &TestApp) {
    setup(app).await;
    let admin = admin_cookies(app).await;
    let mut member = app.sign_in("plex", MEMBER).await;
    let mut friend = app.sign_in("plex", FRIEND).await;
    let (status, html, _) = page(app, &admin, Method::GET, "/if/admin/sessions/", &[]).await;
    assert_eq!(status, 200);
    assert!(html.contains("3 signed-in browsers"), "owner, member and friend: {html}");
    let (_, html, _) = page(app, &admin, Method::GET, "/if/admin/sessions/?search=member", &[]).await;
    assert!(html.contains("1 signed-in browser.") && html.contains(">member</a>"), "{html}");
    let action = end_action(&html);
    let (status, _, location) = page(app, &admin, Method::POST, &action, &[("csrf", &csrf_of(&html))]).await;
    assert_eq!((status.as_u16(), location.as_str()), (303, "/if/admin/sessions/"));
    assert!(app.me(&mut member).await.is_none(), "the member's session ended");
    assert!(app.me(&mut friend).await.is_some(), "the friend's did not");
    let (_, html, _) = page(app, &admin, Method::GET, "/if/admin/sessions/", &[]).await;
    assert!(html.contains("2 signed-in browsers"), "{html}");
    // Sessions past their end or idle too long are neither listed nor counted.
    let friend_id = app.store.read().user_by_username("friend").await.unwrap().unwrap().id;
    let now = app.state.clock.now();
    let hour = jiff::SignedDuration::from_hours(1);
    let mut tx = app.store.begin().await.unwrap();
    for (n, last_seen, expires) in [(1, now, now - hour), (2, now - hour * 24 * 400, now + hour)] {
        let session = plexid_core::model::Session {
            id: uuid::Uuid::new_v4(),
            key_hash: format!("stale-{n}"),
            user: friend_id,
            source: None,
            created: now - hour * 24 * 400,
            last_seen,
            expires,
            client_ip: "192.0.2.1".into(),
            user_agent: "stale".into(),
        };
        tx.conn().insert_session(&session).await.unwrap();
    }
    tx.commit().await.unwrap();
    let (_, html, _) = page(app, &admin, Method::GET, "/if/admin/sessions/", &[]).await;
    assert!(html.contains("2 signed-in browsers") && !html.contains("192.0.2.1"), "{html}");
    // Without the CSRF token, nothing ends.
    let (_, html, _) = page(app, &admin, Method::GET, "/if/admin/sessions/?search=friend", &[]).await;
    let action = end_action(&html);
    assert_eq!(page(app, &admin, Method::POST, &action, &[("csrf", "forged")]).await.0, 403);
    assert!(app.me(&mut friend).await.is_some());
}
both!(session_pages, session_pages);

/// The connections pages: user connections named by username and source, searchable; a group
/// connection on its tab; each deleted after a confirmation that says what it changes.
async fn connection_pages(app: &TestApp) {
    setup(app).await;
    let admin = admin_cookies(app).await;
    app.sign_in("plex", MEMBER).await;
    let (status, _, location) = page(app, &admin, Method::GET, "/if/admin/connections/", &[]).await;
    assert_eq!((status.as_u16(), location.as_str()), (303, "/if/admin/connections/user/"));
    let (status, html, _) = page(app, &admin, Method::GET, "/if/admin/connections/user/", &[]).await;
    assert_eq!(status, 200);
    assert!(html.contains("2 connections") && html.contains(">member</a>") && html.contains(">owner</a>"), "{html}");
    let (_, html, _) = page(app, &admin, Method::GET, "/if/admin/connections/user/?search=1002", &[]).await;
    assert!(html.contains("1 connection.") && html.contains(">member</a>"), "{html}");
    let (_, members) = app.get("/api/v3/core/users/?username=member").await;
    let (_, listed) =
        app.get(&format!("/api/v3/sources/user_connections/plex/?user={}", members["results"][0]["pk"])).await;
    let id = listed["results"][0]["pk"].as_i64().unwrap();
    let delete = format!("/if/admin/connections/user/{id}/delete");
    assert!(html.contains(&format!("href=\"{delete}\"")), "{html}");
    let (status, html, _) = page(app, &admin, Method::GET, &delete, &[]).await;
    assert_eq!(status, 200);
    assert!(html.contains("member is no longer linked to Plex account 1002"), "{html}");
    let csrf = csrf_of(&html);
    let (status, _, location) = page(app, &admin, Method::POST, &delete, &[("csrf", &csrf)]).await;
    assert_eq!((status.as_u16(), location.as_str()), (303, "/if/admin/connections/user/"));
    assert_eq!(app.get(&format!("/api/v3/sources/user_connections/plex/{id}/")).await.0, 404);
    assert_eq!(app.count("/api/v3/core/users/?username=member").await, 1, "the user stays");

    let (_, group) = app.post("/api/v3/core/groups/", json!({"name": "Plex friends"})).await;
    let body = json!({"group": group["pk"], "source": "plex", "identifier": "friends-1"});
    let (status, connection) = app.post("/api/v3/sources/group_connections/plex/", body).await;
    assert_eq!(status, 201, "{connection}");
    let (_, html, _) = page(app, &admin, Method::GET, "/if/admin/connections/group/", &[]).await;
    assert!(html.contains(">Plex friends</a>") && html.contains("friends-1"), "{html}");
    let delete = format!("/if/admin/connections/group/{}/delete", connection["pk"]);
    let (_, html, _) = page(app, &admin, Method::GET, &delete, &[]).await;
    assert!(html.contains("Group identifier friends-1"), "{html}");
    assert_eq!(page(app, &admin, Method::POST, &delete, &[("csrf", "forged")]).await.0, 403);
    let (status, _, _) = page(app, &admin, Method::POST, &delete, &[("csrf", &csrf)]).await;
    assert_eq!(status, 303);
    assert_eq!(app.count("/api/v3/sources/group_connections/plex/").await, 0);
    assert_eq!(page(app, &admin, Method::GET, "/if/admin/connections/other/", &[]).await.0, 404);
}
both!(connection_pages, connection_pages);

/// The flows pages: a flow's page names the source and the provider that use it; a bad slug is
/// refused with nothing changed; the title is changed; deleting it warns that the provider goes
/// with it, and does delete it.
async fn flow_pages(app: &TestApp) {
    setup(app).await;
    let admin = admin_cookies(app).await;
    let flow = json!({"name": "Temporary", "slug": "temporary", "title": "Temporary", "designation": "authorization"});
    let (status, flow) = app.post("/api/v3/flows/instances/", flow).await;
    assert_eq!(status, 201, "{flow}");
    let body = json!({"name": "Uses it", "authorization_flow": flow["pk"], "external_host": "http://uses.test"});
    let (status, provider) = app.post("/api/v3/providers/proxy/", body).await;
    assert_eq!(status, 201, "{provider}");
    let (status, source) = app.patch("/api/v3/sources/plex/plex/", json!({"authentication_flow": flow["pk"]})).await;
    assert_eq!(status, 200, "{source}");

    let (status, html, _) = page(app, &admin, Method::GET, "/if/admin/flows/?search=temp", &[]).await;
    assert_eq!(status, 200);
    assert!(html.contains("1 flow.") && html.contains("href=\"/if/admin/flows/temporary/\""), "{html}");
    let (status, html, _) = page(app, &admin, Method::GET, "/if/admin/flows/temporary/", &[]).await;
    assert_eq!(status, 200);
    let source_name = source["name"].as_str().unwrap();
    assert!(html.contains(&format!("<li>{source_name}</li>")) && html.contains("<li>Uses it (proxy)</li>"), "{html}");

    let (status, html, _) = page(app, &admin, Method::GET, "/if/admin/flows/temporary/edit", &[]).await;
    assert_eq!(status, 200);
    let csrf = csrf_of(&html);
    let edit = |slug: &'static str| {
        [
            ("csrf", csrf.as_str()),
            ("name", "Temporary"),
            ("slug", slug),
            ("title", "Signing in"),
            ("designation", "authorization"),
            ("authentication", "require_authenticated"),
        ]
    };
    let (status, html, _) = page(app, &admin, Method::POST, "/if/admin/flows/temporary/edit", &edit("no good")).await;
    assert_eq!(status, 400);
    assert!(html.contains("id=\"slug-errors\""), "{html}");
    assert_eq!(app.get("/api/v3/flows/instances/temporary/").await.1["title"], "Temporary");
    let (status, _, location) =
        page(app, &admin, Method::POST, "/if/admin/flows/temporary/edit", &edit("temporary")).await;
    assert_eq!((status.as_u16(), location.as_str()), (303, "/if/admin/flows/temporary/"));
    let (_, stored) = app.get("/api/v3/flows/instances/temporary/").await;
    assert_eq!(
        (stored["title"].as_str(), stored["authentication"].as_str()),
        (Some("Signing in"), Some("require_authenticated"))
    );

    let (status, html, _) = page(app, &admin, Method::GET, "/if/admin/flows/temporary/delete", &[]).await;
    assert_eq!(status, 200);
    assert!(html.contains("deleted with it") && html.contains("<li>Uses it (proxy)</li>"), "{html}");
    let (status, _, location) =
        page(app, &admin, Method::POST, "/if/admin/flows/temporary/delete", &[("csrf", &csrf)]).await;
    assert_eq!((status.as_u16(), location.as_str()), (303, "/if/admin/flows/"));
    assert_eq!(app.get("/api/v3/flows/instances/temporary/").await.0, 404);
    assert_eq!(app.get(&format!("/api/v3/providers/proxy/{}/", provider["pk"])).await.0, 404);
    assert_eq!(app.get("/api/v3/sources/plex/plex/").await.1["authentication_flow"], json!(null));
}
both!(flow_pages, flow_pages);

/// A user who may only see groups: the navigation offers Groups alone, the group pages offer no
/// action, and the other sections and the actions' addresses answer 403.
async fn view_only_pages(app: &TestApp) {
    setup(app).await;
    let member = app.sign_in("plex", MEMBER).await;
    let (_, users) = app.get("/api/v3/core/users/?username=member").await;
    let path = format!("/api/v3/rbac/permissions/assigned_by_users/{}/assign/", users["results"][0]["pk"]);
    let (status, body) = app.post(&path, json!({"permissions": ["authentik_core.view_group"]})).await;
    assert_eq!(status, 200, "{body}");
    let (_, group) = app.post("/api/v3/core/groups/", json!({"name": "Watchers"})).await;
    let group_page = format!("/if/admin/groups/{}/", group["pk"].as_str().unwrap());

    let (status, html, _) = page(app, &member, Method::GET, "/if/admin/groups/", &[]).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("href=\"/if/admin/groups/\"") && !html.contains("href=\"/if/admin/users/\""), "{html}");
    assert!(!html.contains("New group"), "{html}");
    let (status, html, _) = page(app, &member, Method::GET, &group_page, &[]).await;
    assert_eq!(status, 200);
    assert!(!html.contains("edit\"") && !html.contains("delete\"") && !html.contains("name=\"username\""), "{html}");
    let csrf = csrf_of(&html);
    for path in ["/if/admin/groups/new", "/if/admin/sessions/", "/if/admin/connections/user/", "/if/admin/flows/"] {
        assert_eq!(page(app, &member, Method::GET, path, &[]).await.0, 403, "{path}");
    }
    let (status, _, _) =
        page(app, &member, Method::POST, "/if/admin/groups/new", &[("csrf", &csrf), ("name", "Mine")]).await;
    assert_eq!(status, 403);
    let (status, _, _) = page(app, &member, Method::POST, &format!("{group_page}delete"), &[("csrf", &csrf)]).await;
    assert_eq!(status, 403);
    assert_eq!(app.count("/api/v3/core/groups/?search=Mine").await, 0);
    assert_eq!(app.get(&format!("/api/v3/core/groups/{}/", group["pk"].as_str().unwrap())).await.0, 200);
}
both!(view_only_pages, view_only_pages);

/// A group's page lists its members fifty at a time, with a search; the groups list counts them
/// without reading them.
async fn group_members_are_paged(app: &TestApp) {
    setup(app).await;
    let admin = admin_cookies(app).await;
    let mut ids = Vec::new();
    for i in 0..60 {
        let (_, user) = app.post("/api/v3/core/users/", json!({"username": format!("user{i:02}"), "name": "x"})).await;
        ids.push(user["pk"].as_i64().unwrap());
    }
    let (_, group) = app.post("/api/v3/core/groups/", json!({"name": "Big", "users": ids})).await;
    let path = format!("/if/admin/groups/{}/", group["pk"].as_str().unwrap());
    let (status, html, _) = page(app, &admin, Method::GET, &path, &[]).await;
    assert_eq!(status, 200);
    assert!(html.contains("Members (60)") && html.contains("Page 1 of 2"), "{html}");
    assert!(html.contains(">user49</a>") && !html.contains(">user50</a>"), "fifty by username");
    let (_, html, _) = page(app, &admin, Method::GET, &format!("{path}?page=2"), &[]).await;
    assert!(html.contains(">user59</a>") && !html.contains(">user00</a>"), "{html}");
    let (_, html, _) = page(app, &admin, Method::GET, &format!("{path}?search=USER07"), &[]).await;
    assert!(html.contains(">user07</a>") && !html.contains(">user08</a>"), "{html}");
    let (_, html, _) = page(app, &admin, Method::GET, "/if/admin/groups/?search=big", &[]).await;
    assert!(html.contains("<td>no</td><td>60</td>"), "{html}");
}
both!(group_members_are_paged, group_members_are_paged);

/// The admin lists search alike on both engines ("Alice" finds alice on PostgreSQL too) and a
/// page number past the end (or past any number) is an empty page, not a failure.
async fn admin_lists_search_and_page_alike(app: &TestApp) {
    setup(app).await;
    let admin = admin_cookies(app).await;
    app.post("/api/v3/core/users/", json!({"username": "alice", "name": "Alice Liddell"})).await;
    let (status, html, _) = page(app, &admin, Method::GET, "/if/admin/users/?search=Alice", &[]).await;
    assert_eq!(status, 200);
    assert!(html.contains(">alice</a>"), "{html}");
    for list in ["users", "groups", "sessions", "events", "sources", "tokens", "connections/user", "flows"] {
        let path = format!("/if/admin/{list}/?page=18446744073709551615");
        let (status, html, _) = page(app, &admin, Method::GET, &path, &[]).await;
        assert_eq!(status, 200, "{path}: {html}");
    }
}
both!(admin_lists_search_and_page_alike, admin_lists_search_and_page_alike);

/// Error pages are in the site's layout (the admin pages' layout, with its navigation, on admin
/// addresses for administrators); someone without administration rights is told how to get
/// them and offered Sign out; the account page and the admin pages link to each other.
async fn error_pages_in_the_layout(app: &TestApp) {
    setup(app).await;
    let admin = admin_cookies(app).await;
    let member = app.sign_in("plex", MEMBER).await;
    let (status, html, _) = page(app, &member, Method::GET, "/if/admin/", &[]).await;
    assert_eq!(status, 403);
    assert!(html.contains("plexid.css") && html.contains("class=\"site-bar\""), "{html}");
    assert!(html.contains("<h1>No administration rights</h1>") && html.contains("How to get in"), "{html}");
    assert!(
        html.contains("<form method=\"post\" action=\"/if/logout/\"") && html.contains(">Sign out</button>"),
        "{html}"
    );
    let (status, html, _) = page(app, &crate::login::Cookies::default(), Method::GET, "/nowhere", &[]).await;
    assert_eq!(status, 404);
    assert!(html.contains("plexid.css") && html.contains("<h1>Not found</h1>"), "{html}");
    let (status, html, _) = page(app, &admin, Method::GET, "/if/admin/nowhere", &[]).await;
    assert_eq!(status, 404);
    assert!(html.contains("id=\"admin-nav\"") && html.contains("<h1>Not found</h1>"), "{html}");
    let (_, html, _) = page(app, &admin, Method::GET, "/if/admin/groups/new", &[]).await;
    let csrf = csrf_of(&html);
    let (_, groups) = app.get("/api/v3/core/groups/?is_superuser=true").await;
    let members = format!("/if/admin/groups/{}/members", groups["results"][0]["pk"].as_str().unwrap());
    let (status, html, _) = page(app, &admin, Method::POST, &members, &[("csrf", &csrf), ("username", "nobody")]).await;
    assert_eq!(status, 400);
    assert!(html.contains("id=\"admin-nav\"") && html.contains("<h1>No such user</h1>"), "{html}");
    // My account and the admin pages link to each other (for those who may administer).
    let (_, html, _) = page(app, &admin, Method::GET, "/if/user/", &[]).await;
    assert!(html.contains("<a href=\"/if/admin/\">Administration</a>"), "{html}");
    let (_, html, _) = page(app, &admin, Method::GET, "/if/admin/", &[]).await;
    assert!(html.contains("<a href=\"/if/user/\">My account (owner)</a>"), "{html}");
    let (_, html, _) = page(app, &member, Method::GET, "/if/user/", &[]).await;
    assert!(!html.contains("Administration"), "{html}");
}
both!(error_pages_in_the_layout, error_pages_in_the_layout);

/// Without `PLEXID_PUBLIC_URL` (as a newcomer starts plexid), the forward-auth form says first
/// that it is needed, and an OpenID Connect application's endpoints say what address they
/// assumed.
async fn public_url_notice(app: &TestApp) {
    setup(app).await;
    let admin = admin_cookies(app).await;
    let (status, html, _) = page(app, &admin, Method::GET, "/if/admin/applications/new", &[]).await;
    assert_eq!(status, 200);
    assert!(html.contains("id=\"public-url-notice\"") && html.contains("PLEXID_PUBLIC_URL"), "{html}");
    let provider = app.oauth2_provider("RP", json!({})).await;
    app.application("rp", &provider["pk"], json!({})).await;
    let (_, html, _) = page(app, &admin, Method::GET, "/if/admin/applications/rp/", &[]).await;
    assert!(html.contains("id=\"public-url-notice\""), "{html}");
    assert!(html.contains(&format!("<code id=\"oidc-issuer\">{}/application/o/rp/</code>", app.base)), "{html}");
    assert!(!html.contains("PLEXID_PUBLIC_URL/"), "no placeholder address: {html}");
}
both!(public_url_notice, public_url_notice, settings(|s: &mut plexid_server::config::Settings| s.public_url = None));
