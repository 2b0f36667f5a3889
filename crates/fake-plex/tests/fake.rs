//! The stand-in behaves like plex.tv where plexid depends on it.

use std::time::Duration;

use fake_plex::{Account, FakePlex, Fault, Server};
use serde_json::Value;

async fn fake() -> (FakePlex, reqwest::Client) {
    let fake = FakePlex::start().await.unwrap();
    fake.add_account(Account::new(1, "owner"));
    fake.add_account(Account::new(2, "member"));
    fake.add_server(Server::new("Home", "srv", 1));
    fake.share_server("srv", 2);
    (fake, reqwest::Client::new())
}

fn api(client: &reqwest::Client, method: reqwest::Method, url: String) -> reqwest::RequestBuilder {
    client.request(method, url).header("Accept", "application/json").header("X-Plex-Client-Identifier", "c1")
}

/// Sends `request` and reads its JSON answer.
async fn json_of(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn pins_are_created_approved_and_expire() {
    let (fake, http) = fake().await;
    let created =
        api(&http, reqwest::Method::POST, format!("{}/api/v2/pins?strong=true", fake.url())).send().await.unwrap();
    assert_eq!(created.status(), 201);
    let pin: Value = created.json().await.unwrap();
    assert_eq!(pin["code"].as_str().unwrap().len(), 25);
    assert_eq!(pin["expiresIn"], 1800);
    assert!(pin["authToken"].is_null());
    let id = pin["id"].as_u64().unwrap();
    let poll = || api(&http, reqwest::Method::GET, format!("{}/api/v2/pins/{id}", fake.url())).send();
    assert!(poll().await.unwrap().json::<Value>().await.unwrap()["authToken"].is_null());
    assert!(fake.approve_code(pin["code"].as_str().unwrap(), 2));
    let approved: Value = poll().await.unwrap().json().await.unwrap();
    assert_eq!(approved["authToken"].as_str(), fake.token_of(2).as_deref());
    // Another client cannot read it; an expired PIN is gone.
    let other = http
        .get(format!("{}/api/v2/pins/{id}", fake.url()))
        .header("Accept", "application/json")
        .header("X-Plex-Client-Identifier", "c2")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
    fake.expire_pin(id);
    assert_eq!(poll().await.unwrap().status(), 404);
}

#[tokio::test]
async fn headers_are_required_like_plex_tv() {
    let (fake, http) = fake().await;
    let no_client =
        http.get(format!("{}/api/v2/user", fake.url())).header("Accept", "application/json").send().await.unwrap();
    assert_eq!(no_client.status(), 400);
    let unknown = api(&http, reqwest::Method::GET, format!("{}/api/v2/user", fake.url()))
        .header("X-Plex-Token", "nope")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 401);
    let xml = http
        .get(format!("{}/api/v2/user", fake.url()))
        .header("X-Plex-Client-Identifier", "c1")
        .header("X-Plex-Token", fake.token_of(2).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(xml.headers()["content-type"], "application/xml");
    assert!(xml.text().await.unwrap().contains("<user "));
}

#[tokio::test]
async fn resources_list_owned_and_shared_servers() {
    let (fake, http) = fake().await;
    let get = |who: u64| {
        api(&http, reqwest::Method::GET, format!("{}/api/v2/resources", fake.url()))
            .header("X-Plex-Token", fake.token_of(who).unwrap())
            .send()
    };
    let owner: Value = get(1).await.unwrap().json().await.unwrap();
    assert_eq!((owner[0]["clientIdentifier"].as_str(), owner[0]["owned"].as_bool()), (Some("srv"), Some(true)));
    assert!(owner[0]["ownerId"].is_null() && owner[0]["sourceTitle"].is_null(), "owned: no owner id");
    let member: Value = get(2).await.unwrap().json().await.unwrap();
    assert_eq!((member[0]["owned"].clone(), member[0]["ownerId"].clone()), (Value::Bool(false), Value::from(1)));
    assert_eq!(member[0]["sourceTitle"], "owner");
    fake.unshare_server("srv", 2);
    let member: Value = get(2).await.unwrap().json().await.unwrap();
    assert_eq!(member, Value::Array(vec![]));
}

#[tokio::test]
async fn faults_latency_cors_and_the_call_log() {
    let (fake, http) = fake().await;
    let user = || {
        api(&http, reqwest::Method::GET, format!("{}/api/v2/user", fake.url()))
            .header("X-Plex-Token", fake.token_of(1).unwrap())
            .send()
    };
    fake.fault_times("/api/v2/user", Fault::Status(500), 1);
    assert_eq!(user().await.unwrap().status(), 500);
    assert_eq!(user().await.unwrap().status(), 200, "only once");
    fake.fault("/api/v2/user", Fault::RateLimited { retry_after_secs: Some(7) });
    let limited = user().await.unwrap();
    assert_eq!((limited.status().as_u16(), limited.headers()["retry-after"].to_str().unwrap()), (429, "7"));
    fake.clear_faults();
    fake.fault("/api/v2/user", Fault::RateLimited { retry_after_secs: None });
    let limited = user().await.unwrap();
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().get("retry-after").is_none(), "as plex.tv: no Retry-After");
    fake.clear_faults();
    fake.fault("/api/v2/user", Fault::Malformed);
    assert!(user().await.unwrap().json::<Value>().await.is_err());
    fake.clear_faults();
    fake.set_latency(Duration::from_millis(150));
    let started = std::time::Instant::now();
    user().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(150));
    let preflight = http.request(reqwest::Method::OPTIONS, format!("{}/api/v2/pins", fake.url())).send().await.unwrap();
    assert_eq!(preflight.status(), 204);
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    let calls = fake.calls();
    assert!(calls.iter().any(|c| c.method == "OPTIONS"));
    assert!(calls.iter().filter(|c| c.path == "/api/v2/user").all(|c| c.header("x-plex-token").is_some()));
}

#[tokio::test]
async fn the_auth_page_offers_every_account() {
    let (fake, http) = fake().await;
    let page = http.get(format!("{}/auth", fake.app_url())).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("id=\"approve-owner\"") && page.contains("id=\"approve-member\""));
    let pin: Value = json_of(api(&http, reqwest::Method::POST, format!("{}/api/v2/pins", fake.url()))).await;
    let approve = |client: &'static str| {
        let code = pin["code"].as_str().unwrap().to_owned();
        http.post(format!("{}/auth/approve", fake.app_url()))
            .form(&[("code", code.as_str()), ("clientID", client), ("account", "2")])
            .send()
    };
    assert_eq!(approve("wrong-client").await.unwrap().status(), 404);
    assert_eq!(approve("c1").await.unwrap().status(), 204);
}

/// The owner's side as plex.tv shows it today: accepted and pending shares, the XML shares,
/// friends from GraphQL with `/api/v2/friends` gone (its old JSON behind a switch), Plex Home in
/// both shapes and none, the token in `/api/v2/user`, and the app page on another origin.
#[tokio::test]
async fn the_owners_side_is_as_harsh_as_plex_tv() {
    let (fake, http) = fake().await;
    fake.add_account(Account::new(3, "friend"));
    fake.add_account(Account::new(4, "requester"));
    fake.add_account(Account::managed(5, "Kid"));
    fake.add_friend(1, 3);
    fake.add_friend_request(4, 1);
    fake.add_home_member(1, 5);
    fake.invite_to_server("srv", 4);
    let get = |path: &str, who: u64| {
        api(&http, reqwest::Method::GET, format!("{}{path}", fake.url()))
            .header("X-Plex-Token", fake.token_of(who).unwrap())
            .send()
    };
    let accepted: Value = get("/api/v2/shared_servers/owned/accepted", 1).await.unwrap().json().await.unwrap();
    assert_eq!(accepted.as_array().unwrap().len(), 1);
    assert_eq!(
        (accepted[0]["invited"]["id"].clone(), accepted[0]["machineIdentifier"].clone()),
        (Value::from(2), Value::from("srv"))
    );
    let pending: Value = get("/api/v2/shared_servers/owned/pending", 1).await.unwrap().json().await.unwrap();
    assert_eq!(pending[0]["invitedId"], 4);
    let xml = get("/api/servers/srv/shared_servers", 1).await.unwrap().text().await.unwrap();
    assert!(xml.contains("userID=\"2\"") && xml.contains("acceptedAt=\"0\""), "{xml}");
    assert_eq!(get("/api/servers/srv/shared_servers", 2).await.unwrap().status(), 403, "the owner's only");
    // /api/v2/friends is gone; GraphQL lists accepted friends.
    assert_eq!(get("/api/v2/friends", 1).await.unwrap().status(), 410);
    let graphql: Value = json_of(
        api(&http, reqwest::Method::POST, format!("{}/api", fake.url()))
            .header("X-Plex-Token", fake.token_of(1).unwrap())
            .json(&serde_json::json!({"query": "query GetAllFriends { allFriendsV2 { user { id idRaw username } } }"})),
    )
    .await;
    assert_eq!(graphql["data"]["allFriendsV2"][0]["user"]["idRaw"], 3);
    assert_eq!(graphql["data"]["allFriendsV2"].as_array().unwrap().len(), 1);
    fake.set_friends_gone(false);
    let all: Value = get("/api/v2/friends", 1).await.unwrap().json().await.unwrap();
    let statuses: Vec<&str> = all.as_array().unwrap().iter().map(|f| f["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["accepted", "pending_received", "accepted"], "{all}");
    let kid = all.as_array().unwrap().iter().find(|f| f["id"] == 5).unwrap();
    assert!(
        kid["username"].is_null()
            && kid["email"].is_null()
            && kid["home"] == true
            && kid["sharedServers"] == serde_json::json!([])
    );
    let accepted: Value = get("/api/v2/friends?status=accepted", 1).await.unwrap().json().await.unwrap();
    assert_eq!(accepted.as_array().unwrap().len(), 2);
    // Plex Home: the object with the admin, a bare array on request, 404 without a Home.
    let home: Value = get("/api/v2/home/users", 1).await.unwrap().json().await.unwrap();
    assert_eq!(
        (home["users"][0]["admin"].clone(), home["users"][1]["username"].clone()),
        (Value::Bool(true), Value::from(""))
    );
    fake.set_home_as_array(true);
    assert!(get("/api/v2/home/users", 1).await.unwrap().json::<Value>().await.unwrap().is_array());
    assert!(get("/api/home/users", 1).await.unwrap().text().await.unwrap().contains("<User "));
    assert_eq!(get("/api/v2/home/users", 2).await.unwrap().status(), 404);
    // The person's own token is in /api/v2/user; a managed user has no username or email.
    let me: Value = get("/api/v2/user", 5).await.unwrap().json().await.unwrap();
    assert_eq!(
        (me["authToken"].as_str(), me["username"].as_str(), me["email"].as_str()),
        (fake.token_of(5).as_deref(), Some(""), Some(""))
    );
    // The app page is on another origin.
    assert_ne!(fake.url(), fake.app_url());
    assert_eq!(http.get(format!("{}/auth", fake.app_url())).send().await.unwrap().status(), 200);
    assert_eq!(http.get(format!("{}/auth", fake.url())).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn the_scale_world_shares_each_server_with_its_members() {
    let fake = FakePlex::start().await.unwrap();
    fake.add_scale_world(3, 10);
    let http = reqwest::Client::new();
    let accepted = |owner: u64| {
        api(&http, reqwest::Method::GET, format!("{}/api/v2/shared_servers/owned/accepted", fake.url()))
            .header("X-Plex-Token", format!("scale-owner-{owner}-token"))
            .send()
    };
    let invited = |shares: Value| -> Vec<u64> {
        shares.as_array().unwrap().iter().map(|s| s["invitedId"].as_u64().unwrap()).collect()
    };
    // Plex id ID is shared with server ID % 3 + 1 (1,000,000 % 3 = 1).
    let first = fake_plex::SCALE_FIRST_MEMBER;
    assert_eq!(invited(accepted(2).await.unwrap().json().await.unwrap()), [first, first + 3, first + 6, first + 9]);
    assert_eq!(invited(accepted(1).await.unwrap().json().await.unwrap()), [first + 2, first + 5, first + 8]);
    // A member signs in with their fixed token and sees the server shared with them.
    let resources: Value = json_of(
        api(&http, reqwest::Method::GET, format!("{}/api/v2/resources", fake.url()))
            .header("X-Plex-Token", format!("scale-member-{}-token", first + 1)),
    )
    .await;
    assert_eq!(resources[0]["clientIdentifier"], "scale-server-3");
    assert_eq!(fake.token_of(first + 1).as_deref(), Some(format!("scale-member-{}-token", first + 1).as_str()));
}
