//! Issue 18, "built for the real plex.tv": every access rule over HTTP through the real login
//! against `fake-plex` in its harsh settings (friends from GraphQL with `/api/v2/friends` gone,
//! accepted and pending shares, null usernames, `ownerId: null` on owned devices, Plex Home
//! without a Home, 429 without `Retry-After`): membership proved from the owner's side, pending
//! invitations and friend requests refused, claimed servers refused, managed Home users as the
//! Home relationship, each plex.tv failure on each call answered 502/503 with nothing written,
//! the owner cache kept when the Home call fails, the health of each call, the sweep judging
//! someone whose own token was revoked, and no token in mapping `info` or a pending sign-in.

use fake_plex::{Account, Fault, Resource, GRAPHQL_PATH};
use plexid_core::SourceId;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::both;
use crate::helpers::{Backend, TestApp};
use crate::login::{Cookies, FRIEND, MEMBER, OWNER, SERVER_ID, STRANGER};

pub(crate) const INVITED: u64 = 1010;
pub(crate) const REQUESTER: u64 = 1011;
pub(crate) const CLAIMER: u64 = 1012;
pub(crate) const KID: u64 = 1013;

impl TestApp {
    /// `plex_accounts` and: someone invited to the allowed server (not accepted), someone whose
    /// friend request the owner has not accepted (and one the owner sent), someone who
    /// registered a server of their own under the allowed server's identifier, and a managed Plex
    /// Home user of the owner (empty username and email) the allowed server is shared with.
    fn harsh_accounts(&self) {
        self.plex_accounts();
        for (id, name) in [(INVITED, "invited"), (REQUESTER, "requester"), (CLAIMER, "claimer")] {
            self.plex.add_account(Account::new(id, name));
        }
        self.plex.invite_to_server(SERVER_ID, INVITED);
        self.plex.add_friend_request(REQUESTER, OWNER);
        self.plex.add_friend_request(OWNER, INVITED);
        let server =
            Resource { name: "Allowed".into(), client_identifier: SERVER_ID.into(), provides: "server".into() };
        self.plex.add_resource(CLAIMER, server);
        self.plex.add_account(Account::managed(KID, "Kid"));
        self.plex.add_home_member(OWNER, KID);
        self.plex.share_server(SERVER_ID, KID);
    }

    async fn connection_of(&self, slug: &str, who: u64) -> plexid_store::connections::ConnectionAccess {
        self.connection_access_of(slug, who).await.expect("a connection")
    }

    /// The access stored on `who`'s connection through `slug`, if it has one.
    pub(crate) async fn connection_access_of(
        &self,
        slug: &str,
        who: u64,
    ) -> Option<plexid_store::connections::ConnectionAccess> {
        let source: SourceId = self.store.read().source_by_slug(slug).await.unwrap().unwrap().id;
        let mut conn = self.store.read();
        let connection = conn.user_connection_by_identifier(source, &who.to_string()).await.unwrap()?;
        Some(conn.connection_access(connection.id).await.unwrap().unwrap())
    }

    /// Counts of users, connections and sessions (what a failed sign-in must not change).
    pub(crate) async fn written(&self) -> (u64, u64, i64) {
        let mut tx = self.store.begin().await.unwrap();
        let sessions = tx.conn().fetch_one("SELECT COUNT(*) AS n FROM user_session", vec![]).await.unwrap();
        let sessions = sessions.int("n").unwrap();
        drop(tx);
        (self.count("/api/v3/core/users/").await, self.count("/api/v3/sources/user_connections/plex/").await, sessions)
    }
}

/// An admin page's HTML, as the browser with `admin`'s cookies.
async fn admin_page(app: &TestApp, admin: &Cookies, path: &str) -> String {
    let page = app.browser(&mut admin.clone(), reqwest::Method::GET, path, None, false).await;
    assert_eq!(page.status, 200, "{path}");
    page.body.as_str().unwrap().to_owned()
}

async fn refused(app: &TestApp, who: u64) -> String {
    let a = app.redeem(&mut Cookies::default(), "plex", who).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{who}: {}", a.body);
    a.body["code"].as_str().unwrap().to_owned()
}

async fn membership_is_proved_from_the_owners_side(app: &TestApp) {
    app.harsh_accounts();
    app.plex_source("plex", json!({})).await;
    // Member by the owner's accepted share; the friend from GraphQL (/api/v2/friends is gone).
    app.sign_in("plex", MEMBER).await;
    app.sign_in("plex", FRIEND).await;
    assert!(app.plex.calls().iter().any(|c| c.path == "/api/v2/shared_servers/owned/accepted"));
    assert!(app.plex.calls().iter().any(|c| c.path == GRAPHQL_PATH && c.method == "POST"));
    // A pending invitation is not a member; friend requests either way are not friends.
    assert_eq!(refused(app, INVITED).await, "not_allowed");
    assert_eq!(refused(app, REQUESTER).await, "not_allowed");
    // A server registered under the allowed server's identifier proves nothing.
    assert_eq!(refused(app, CLAIMER).await, "server_claimed");
    let a = app.redeem(&mut Cookies::default(), "plex", CLAIMER).await;
    assert!(a.body["detail"].as_str().unwrap().contains("its owner has to share it with you"), "{}", a.body);
    // The shares call fails: the older XML list of the server decides (pending excluded).
    app.plex.fault("/api/v2/shared_servers", Fault::Status(500));
    app.state.plex.forget_all();
    assert_eq!(app.redeem(&mut Cookies::default(), "plex", MEMBER).await.status, 200);
    assert_eq!(refused(app, INVITED).await, "not_allowed");
    assert!(app.plex.calls().iter().any(|c| c.path == format!("/api/servers/{SERVER_ID}/shared_servers")));
    app.plex.clear_faults();
    // A server shared with the owner by someone else: the person's own entry counts only with
    // that server's real owner.
    app.plex.share_server("srv-other", OWNER);
    app.plex.share_server("srv-other", MEMBER);
    app.plex.add_account(Account::new(1020, "mimic"));
    let mimic = Resource { name: "Other".into(), client_identifier: "srv-other".into(), provides: "server".into() };
    app.plex.add_resource(1020, mimic);
    app.plex_source("shared", json!({"allowed_servers": ["srv-other"], "allow_friends": false})).await;
    assert_eq!(app.redeem(&mut Cookies::default(), "shared", MEMBER).await.status, 200);
    assert_eq!(app.redeem(&mut Cookies::default(), "shared", STRANGER).await.status, 200, "its real owner");
    let a = app.redeem(&mut Cookies::default(), "shared", 1020).await;
    assert_eq!((a.status, a.body["code"].clone()), (StatusCode::FORBIDDEN, json!("server_claimed")));
}
both!(membership_is_proved_from_the_owners_side, membership_is_proved_from_the_owners_side);

async fn friends_are_accepted_friends(app: &TestApp) {
    app.harsh_accounts();
    app.plex_source("plex", json!({"allowed_servers": []})).await;
    let admin = crate::admin::admin_cookies(app).await;
    app.sign_in("plex", FRIEND).await;
    assert!(app.connection_of("plex", FRIEND).await.relationship.friend);
    // GraphQL fails; /api/v2/friends answers again (old JSON with pending entries and managed
    // Home users): only accepted friends count.
    app.plex.fault_exact(GRAPHQL_PATH, Fault::Status(500));
    app.plex.set_friends_gone(false);
    app.state.plex.forget_all();
    app.sign_in("plex", FRIEND).await;
    let asked = app.plex.calls().into_iter().rev().find(|c| c.path == "/api/v2/friends").unwrap();
    assert_eq!(asked.query, "status=accepted");
    assert_eq!(refused(app, REQUESTER).await, "not_allowed");
    assert_eq!(refused(app, KID).await, "not_allowed", "a managed Home user is not a friend");
    // Both fail (/api/v2/friends gone): nobody is refused for want of the friends list.
    app.plex.set_friends_gone(true);
    app.state.plex.forget_all();
    let before = app.written().await;
    for who in [FRIEND, STRANGER] {
        let a = app.redeem(&mut Cookies::default(), "plex", who).await;
        assert_eq!((a.status, a.body["code"].clone()), (StatusCode::BAD_GATEWAY, json!("plex_unavailable")));
    }
    assert_eq!(app.written().await, before);
    let failed = app.events("action=login_failed").await;
    assert_eq!(failed[0]["context"]["reason"], "plex_unavailable", "audited as a failure, not a refusal");
    // The admin sees it: one configuration error, and the source page says what it stops.
    let errors = app.events("action=configuration_error").await;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["context"]["plex_call"], "friends");
    assert_eq!(errors[0]["context"]["state"], "gone");
    let page = admin_page(app, &admin, "/if/admin/sources/plex/").await;
    assert!(page.contains("friends list unavailable since"), "{page}");
    assert!(page.contains("friends cannot sign in, the sweep cannot revoke friends"));
    let overview = admin_page(app, &admin, "/if/admin/").await;
    assert!(overview.contains("friends list unavailable since"));
    // It works again: one event says so, the page too.
    app.plex.clear_faults();
    app.state.plex.forget_all();
    app.sign_in("plex", FRIEND).await;
    let recovered = app.events("action=system_task_execution").await;
    assert!(recovered.iter().any(|e| e["context"]["plex_call"] == "friends"), "{recovered:?}");
    assert_eq!(app.events("action=configuration_error").await.len(), 1);
    let page = admin_page(app, &admin, "/if/admin/sources/plex/").await;
    assert!(page.contains("all answer"), "{page}");
}
both!(friends_are_accepted_friends, friends_are_accepted_friends);

async fn managed_home_users_are_the_home_relationship(app: &TestApp) {
    app.harsh_accounts();
    app.plex.add_home_member(OWNER, MEMBER);
    app.plex_source("plex", json!({})).await;
    // The managed user has no username: admitted as a member, asked for a username.
    let a = app.redeem(&mut Cookies::default(), "plex", KID).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body["to"].as_str().unwrap().starts_with("/if/flow/default-source-enrollment/"), "{}", a.body);
    app.sign_in("plex", MEMBER).await;
    let member = app.connection_of("plex", MEMBER).await.relationship;
    assert!(member.home && !member.friend && member.servers == [SERVER_ID], "{member:?}");
    // Home alone does not admit to the source (its rule is owner, friends, members).
    app.plex.unshare_server(SERVER_ID, MEMBER);
    app.state.plex.forget_all(); // (a grant may use owner facts up to the cache lifetime old)
    assert_eq!(refused(app, MEMBER).await, "not_allowed");
    // The Home call answers a bare array: the same.
    app.plex.share_server(SERVER_ID, MEMBER);
    app.plex.set_home_as_array(true);
    app.state.plex.forget_all();
    app.sign_in("plex", MEMBER).await;
    assert!(app.connection_of("plex", MEMBER).await.relationship.home);
}
both!(managed_home_users_are_the_home_relationship, managed_home_users_are_the_home_relationship);

/// The calls one sign-in depends on, each failing in every way plex.tv fails: 502 or 503, the
/// failure audited, nothing written.
async fn each_failure_on_each_call_is_502_503_and_writes_nothing(app: &TestApp) {
    app.harsh_accounts();
    app.plex_source("plex", json!({})).await;
    app.plex.share_server("srv-other", OWNER);
    app.plex.share_server("srv-other", MEMBER);
    app.plex_source("shared", json!({"allowed_servers": ["srv-other"], "allow_friends": false})).await;
    let modes = [
        (Fault::Status(500), 502, None),
        (Fault::Timeout, 502, None),
        (Fault::Malformed, 502, None),
        (Fault::RateLimited { retry_after_secs: Some(120) }, 503, Some("120")),
        (Fault::RateLimited { retry_after_secs: None }, 503, Some("30")),
    ];
    // (what fails, whose sign-in needs it, through which source)
    let calls: [(&str, bool, u64, &str); 6] = [
        ("/api/v2/user", false, MEMBER, "plex"),
        ("/api/v2/resources", false, STRANGER, "plex"),
        ("/api/v2/shared_servers/owned/accepted", false, STRANGER, "plex"),
        (GRAPHQL_PATH, true, STRANGER, "plex"),
        ("/api/v2/resources", false, MEMBER, "shared"),
        ("/api/v2/user", false, OWNER, "plex"),
    ];
    let before = app.written().await;
    let mut failures = 0;
    for (path, exact, who, slug) in calls {
        for (fault, status, retry_after) in modes.clone() {
            app.state.plex.forget_all();
            if slug == "shared" {
                // The owner's facts come from the cache; only the person's devices fail.
                let owner = app.plex.token_of(OWNER).unwrap();
                let query =
                    plexid_plex::OwnerQuery { servers: &["srv-other".to_owned()], friends: false, fresh: false };
                let source = app.store.read().source_by_slug("shared").await.unwrap().unwrap();
                app.state.plex.owner(&source.client_id, &owner, query).await;
            }
            if path == "/api/v2/shared_servers/owned/accepted" {
                app.plex.fault(&format!("/api/servers/{SERVER_ID}/"), fault.clone());
            }
            if exact {
                app.plex.fault_exact(path, fault.clone());
            } else {
                app.plex.fault(path, fault.clone());
            }
            let a = app.redeem(&mut Cookies::default(), slug, who).await;
            app.plex.clear_faults();
            assert_eq!(a.status.as_u16(), status, "{path} {fault:?} for {who}: {}", a.body);
            let code = if status == 502 { "plex_unavailable" } else { "plex_rate_limited" };
            assert_eq!(a.body["code"], code);
            assert_eq!(a.headers.get("retry-after").map(|v| v.to_str().unwrap()), retry_after, "{path} {fault:?}");
            failures += 1;
        }
    }
    assert_eq!(app.written().await, before, "nothing written");
    let failed = app.events("action=login_failed").await;
    assert_eq!(failed.len(), failures);
    assert!(failed
        .iter()
        .all(|e| e["context"]["reason"] == "plex_unavailable" || e["context"]["reason"] == "plex_rate_limited"));
    assert!(app.events("action=login").await.is_empty());
}

both!(
    each_failure_on_each_call,
    each_failure_on_each_call_is_502_503_and_writes_nothing,
    settings(|s: &mut plexid_server::config::Settings| {
        s.plex_timeout = plexid_server::config::Period(jiff::SignedDuration::from_millis(250));
    })
);

async fn the_owner_cache_is_kept_when_the_home_call_fails(app: &TestApp) {
    app.harsh_accounts();
    app.plex_source("plex", json!({})).await;
    let admin = crate::admin::admin_cookies(app).await;
    app.state.plex.forget_all();
    app.plex.fault("/api/v2/home/users", Fault::Status(500));
    app.sign_in("plex", MEMBER).await;
    app.plex.clear_calls();
    app.sign_in("plex", MEMBER).await;
    // The two calls run at once: compared in a fixed order.
    let mut paths: Vec<String> = app.plex.calls().into_iter().map(|c| c.path).collect();
    paths.sort();
    assert_eq!(paths, ["/api/v2/resources", "/api/v2/user"], "only the member's own calls: {paths:?}");
    let errors = app.events("action=configuration_error").await;
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["context"]["plex_call"], "home");
    // An account without a Plex Home (404) is no failure.
    app.plex.clear_faults();
    app.state.plex.forget_all();
    app.sign_in("plex", MEMBER).await;
    let page = admin_page(app, &admin, "/if/admin/sources/plex/").await;
    assert!(page.contains("all answer"), "{page}");
}
both!(the_owner_cache_is_kept_when_the_home_call_fails, the_owner_cache_is_kept_when_the_home_call_fails);

async fn sign_ins_missing_the_owner_cache_together_share_one_fetch(app: &TestApp) {
    app.harsh_accounts();
    app.plex_source("plex", json!({})).await;
    app.sign_in("plex", MEMBER).await;
    app.sign_in("plex", FRIEND).await;
    app.state.plex.forget_all();
    app.plex.set_path_latency("/api/v2/shared_servers", std::time::Duration::from_millis(300));
    app.plex.clear_calls();
    let sign_ins = (0..8).map(|i| app.sign_in("plex", if i % 2 == 0 { MEMBER } else { FRIEND }));
    futures_util::future::join_all(sign_ins).await;
    let calls: Vec<String> = app.plex.calls().into_iter().map(|c| c.path).collect();
    let count = |path: &str| calls.iter().filter(|p| p.starts_with(path)).count();
    assert_eq!(count("/api/v2/shared_servers/owned/accepted"), 1, "one fetch of the share list: {calls:?}");
    assert_eq!(count("/api/v2/home/users"), 1, "{calls:?}");
    assert_eq!(calls.iter().filter(|p| *p == GRAPHQL_PATH).count(), 1, "{calls:?}");
    assert_eq!(count("/api/v2/resources"), 1 + 8, "the owner's once, each person's own: {calls:?}");
}
both!(
    sign_ins_missing_the_owner_cache_together_share_one_fetch,
    sign_ins_missing_the_owner_cache_together_share_one_fetch
);

async fn the_sweep_works_from_the_owners_side(app: &TestApp) {
    app.harsh_accounts();
    app.plex_source("plex", json!({})).await;
    let mut member = app.sign_in("plex", MEMBER).await;
    let mut friend = app.sign_in("plex", FRIEND).await;
    // Both revoke their own tokens at Plex; the owner stops sharing with the member.
    app.plex.revoke_token(MEMBER);
    app.plex.revoke_token(FRIEND);
    app.plex.unshare_server(SERVER_ID, MEMBER);
    app.plex.clear_calls();
    let summary = plexid_server::jobs::access::sweep(&app.state).await.unwrap();
    assert_eq!((summary.checked, summary.revoked, summary.person_calls), (2, 1, 0), "{summary:?}");
    assert!(app.me(&mut member).await.is_none(), "the member is judged without their own token");
    assert!(app.me(&mut friend).await.is_some(), "the friend is still a friend");
    let calls = app.plex.calls().len();
    assert!(calls <= 5, "one owner pass: {calls} calls");
    // A connection made through the API (no relationship stored yet) is judged too: the owner
    // shares with nobody of that id, so it is revoked.
    let (_, stranger_user) = app.post("/api/v3/core/users/", json!({"username": "made", "name": "Made"})).await;
    let body = json!({"user": stranger_user["pk"], "source": "plex", "identifier": "4242", "plex_token": "t"});
    let (status, made) = app.post("/api/v3/sources/user_connections/plex/", body).await;
    assert_eq!(status, 201, "{made}");
    let summary = plexid_server::jobs::access::sweep(&app.state).await.unwrap();
    assert_eq!((summary.checked, summary.revoked), (3, 1), "{summary:?}");
    // A row a sign-in checked after the sweep gathered its facts is left alone.
    app.sql("UPDATE user_source_connection SET access_checked = access_checked + 3600000000").await;
    let summary = plexid_server::jobs::access::sweep(&app.state).await.unwrap();
    assert_eq!((summary.fresher, summary.revoked), (3, 0), "{summary:?}");
}
both!(the_sweep_works_from_the_owners_side, the_sweep_works_from_the_owners_side);

/// A returning member's sign-in that finds nothing new (same Plex token, relationship and
/// email) leaves their connection unwritten for a minute, and their last login for a second, so
/// that their simultaneous sign-ins do not wait for each other's row locks; a new token, a
/// changed relationship or an older check is written at once, and so is any check while the
/// access sweep may be running.
async fn unchanged_connections_are_not_rewritten_at_every_sign_in(app: &TestApp) {
    app.plex_accounts();
    app.plex_source("plex", json!({})).await;
    let stored_token = || async {
        let source: SourceId = app.store.read().source_by_slug("plex").await.unwrap().unwrap().id;
        let c = app.store.read().user_connection_by_identifier(source, &MEMBER.to_string()).await.unwrap().unwrap();
        app.state.secrets.decrypt(&c.plex_token).unwrap()
    };
    let signed_in = app.state.clock.now();
    app.sign_in("plex", MEMBER).await;
    assert_eq!(app.connection_of("plex", MEMBER).await.checked, Some(signed_in));
    // The user's last login is kept to the second.
    let last_login = || async {
        let users = app.get("/api/v3/core/users/?username=member").await.1;
        users["results"][0]["last_login"].as_str().unwrap().to_owned()
    };
    let first_login = last_login().await;
    app.state.clock.advance(std::time::Duration::from_millis(900));
    app.sign_in("plex", MEMBER).await;
    assert_eq!(last_login().await, first_login, "within a second of the last");
    app.state.clock.advance(std::time::Duration::from_millis(100));
    app.sign_in("plex", MEMBER).await;
    assert_ne!(last_login().await, first_login, "a second later");

    app.state.clock.advance(std::time::Duration::from_secs(30));
    app.sign_in("plex", MEMBER).await;
    assert_eq!(app.connection_of("plex", MEMBER).await.checked, Some(signed_in), "nothing new: not rewritten");

    // A new token (signed out everywhere on plex.tv) is stored at once.
    app.plex.revoke_token(MEMBER);
    app.sign_in("plex", MEMBER).await;
    assert_eq!(stored_token().await, app.plex.token_of(MEMBER).unwrap());
    let rewritten = app.state.clock.now();
    assert_eq!(app.connection_of("plex", MEMBER).await.checked, Some(rewritten));

    // A changed relationship too.
    app.state.clock.advance(std::time::Duration::from_secs(10));
    app.plex.add_friend(OWNER, MEMBER);
    app.state.plex.forget_all();
    app.sign_in("plex", MEMBER).await;
    let access = app.connection_of("plex", MEMBER).await;
    assert!(access.relationship.friend);
    assert_eq!(access.checked, Some(app.state.clock.now()));

    // And an unchanged one whose check is a minute old.
    let checked = app.state.clock.now();
    app.state.clock.advance(std::time::Duration::from_secs(59));
    app.sign_in("plex", MEMBER).await;
    assert_eq!(app.connection_of("plex", MEMBER).await.checked, Some(checked));
    app.state.clock.advance(std::time::Duration::from_secs(1));
    app.sign_in("plex", MEMBER).await;
    assert_eq!(app.connection_of("plex", MEMBER).await.checked, Some(app.state.clock.now()));

    // While the access sweep's lease is held (a sweep may be judging with facts gathered before
    // this sign-in), the check is written: the sweep leaves connections checked since alone.
    app.state.clock.advance(std::time::Duration::from_secs(5));
    let now = app.state.clock.now();
    let until = now + jiff::SignedDuration::from_secs(60);
    let mut tx = app.store.begin().await.unwrap();
    assert!(tx.conn().take_lease(plexid_server::jobs::access::JOB, "test", now, until, until).await.unwrap());
    tx.commit().await.unwrap();
    app.sign_in("plex", MEMBER).await;
    assert_eq!(app.connection_of("plex", MEMBER).await.checked, Some(now), "written while a sweep may run");
}
both!(
    unchanged_connections_are_not_rewritten_at_every_sign_in,
    unchanged_connections_are_not_rewritten_at_every_sign_in,
    manual_clock
);

async fn the_token_goes_nowhere(app: &TestApp) {
    app.harsh_accounts();
    let (status, mapping) = app
        .post(
            "/api/v3/propertymappings/source/plex/",
            json!({"name": "everything", "expression": "return {\"attributes\": {\"info\": info, \"text\": str(info)}}"}),
        )
        .await;
    assert_eq!(status, 201, "{mapping}");
    app.plex_source("plex", json!({"user_property_mappings": [mapping["pk"]]})).await;
    app.sign_in("plex", MEMBER).await;
    let token = app.plex.token_of(MEMBER).unwrap();
    let (_, users) = app.get("/api/v3/core/users/?username=member").await;
    let attributes = &users["results"][0]["attributes"];
    assert_eq!(attributes["info"]["username"], "member", "{attributes}");
    assert!(attributes["info"].get("authToken").is_none());
    assert!(!attributes.to_string().contains(&token), "the token reached a mapping");
    // A sign-in waiting for its username stores neither the token nor info's in clear.
    let a = app.redeem(&mut Cookies::default(), "plex", KID).await;
    assert!(a.body["to"].as_str().unwrap().contains("enrollment"), "{}", a.body);
    let kid = app.plex.token_of(KID).unwrap();
    let mut tx = app.store.begin().await.unwrap();
    let rows = tx.conn().fetch_all("SELECT payload FROM pending_login", vec![]).await.unwrap();
    assert_eq!(rows.len(), 1);
    let payload: Value = serde_json::from_str(&rows[0].text("payload").unwrap()).unwrap();
    assert!(!payload.to_string().contains(&kid), "the pending sign-in holds the token in clear");
    drop(tx);
    // Nothing else holds either.
    let (_, events) = app.get("/api/v3/events/events/?page_size=1000").await;
    assert!(!events.to_string().contains(&token) && !events.to_string().contains(&kid));
}
both!(the_token_goes_nowhere, the_token_goes_nowhere);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_page_is_another_origin() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    assert_ne!(app.plex.url(), app.plex.app_url());
    let client = reqwest::Client::new();
    let page = client.get(format!("{}/auth", app.plex.app_url())).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let api = client.get(format!("{}/auth", app.plex.url())).send().await.unwrap();
    assert_eq!(api.status(), 404, "the API origin serves no app page");
}
