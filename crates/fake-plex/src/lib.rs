//! A local stand-in for plex.tv, for plexid's tests, benchmarks and `plexid demo`.
//!
//! It answers what plexid and its login page use, at least as harshly as plex.tv does (see
//! `docs/plex-tv.md` for the public sources of each shape), on one API origin that stands for
//! plex.tv, clients.plex.tv and community.plex.tv:
//! `POST /api/v2/pins`, `GET /api/v2/pins/{id}`, `GET /api/v2/user` (with the caller's
//! `authToken`), `GET /api/v2/resources` (`ownerId: null` and `sourceTitle: null` on owned
//! entries), `GET /api/v2/shared_servers/owned/accepted` and `…/owned/pending`, the XML
//! `GET /api/servers/{machineIdentifier}/shared_servers` (pending invitations with
//! `acceptedAt="0"`), the community GraphQL `POST /api` (`allFriendsV2`),
//! `GET /api/v2/friends` (410, plex.tv's answer since 2026; its old JSON with `status`, pending
//! entries, managed Home users and empty `sharedServers` behind [`FakePlex::set_friends_gone`]),
//! `GET /api/v2/home/users` (an object, or a bare array) and the v1 XML `GET /api/home/users`
//! (404 for an account without a Plex Home). Managed Home users have empty usernames and
//! emails, and friends' may be null. A 429 comes with or without `Retry-After`.
//!
//! The page a browser reaches from the app URL (`/auth#?clientID=…&code=…&forwardUrl=…`), where
//! a tester picks the account that approves the PIN, is served on a second origin
//! ([`FakePlex::app_url`]), as app.plex.tv is not plex.tv. Like plex.tv: JSON only with
//! `Accept: application/json` (XML otherwise), `X-Plex-Client-Identifier` required (400),
//! unknown token 401, CORS for browsers.
//!
//! Tests control it directly: accounts, servers, their accepted and pending shares, friends and
//! friend requests, Plex Home members, per-path (optionally per-account) faults and latency, and a log of every call it
//! received.
//!
//! This is plex.tv's clock, not plexid's: it reads the system time.
#![allow(clippy::disallowed_methods)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use rand::Rng;
use serde::Deserialize;
use serde_json::{json, Value};

/// How long a PIN lives, in seconds (plex.tv's `expiresIn`).
pub const PIN_LIFETIME: u64 = 1800;

/// A Plex account.
#[derive(Clone, Debug)]
pub struct Account {
    pub id: u64,
    pub uuid: String,
    /// Empty for a managed Plex Home user.
    pub username: String,
    /// Empty for a managed Plex Home user.
    pub email: String,
    pub title: String,
    pub thumb: String,
    pub token: String,
    /// A managed member of someone's Plex Home (no username or email of its own).
    pub home: bool,
}

impl Account {
    /// An account with plex.tv-like defaults and a random token.
    pub fn new(id: u64, username: &str) -> Account {
        Account {
            id,
            uuid: format!("{id:016x}"),
            username: username.to_owned(),
            email: format!("{username}@example.test"),
            title: username.to_owned(),
            thumb: format!("https://plex.tv/users/{id:016x}/avatar"),
            token: random_text(20),
            home: false,
        }
    }

    /// A managed Plex Home user: a title, but an empty username and email (as plex.tv sends).
    pub fn managed(id: u64, title: &str) -> Account {
        Account { username: String::new(), email: String::new(), home: true, ..Account::new(id, title) }
    }

    fn json(&self) -> Value {
        json!({
            "id": self.id, "uuid": self.uuid, "username": self.username, "title": self.title,
            "email": self.email, "thumb": self.thumb,
        })
    }

    /// As a friends entry: a managed user's username and email are `null`, friendly names too.
    fn friend_json(&self) -> Value {
        let text = |t: &str| if t.is_empty() { Value::Null } else { json!(t) };
        json!({
            "id": self.id, "uuid": self.uuid, "title": self.title, "username": text(&self.username),
            "email": text(&self.email), "friendlyName": Value::Null, "thumb": self.thumb,
            "restricted": self.home, "home": self.home, "sharedServers": [], "sharedSources": [],
        })
    }
}

/// A Plex Media Server, owned by one account and shared with others.
#[derive(Clone, Debug)]
pub struct Server {
    pub name: String,
    pub client_identifier: String,
    pub owner: u64,
    pub provides: String,
}

impl Server {
    pub fn new(name: &str, client_identifier: &str, owner: u64) -> Server {
        Server { name: name.into(), client_identifier: client_identifier.into(), owner, provides: "server".into() }
    }
}

/// Another resource an account registered (a player, a client, or a server of its own: plex.tv
/// lists whatever the account registers as owned, whatever its identifier).
#[derive(Clone, Debug)]
pub struct Resource {
    pub name: String,
    pub client_identifier: String,
    pub provides: String,
}

/// What a call matching a fault gets instead of its answer.
#[derive(Clone, Debug)]
pub enum Fault {
    /// This status with a JSON error body.
    Status(u16),
    /// 429, with `Retry-After` when given (plex.tv is not known to send one).
    RateLimited { retry_after_secs: Option<u64> },
    /// No answer (the connection stays open).
    Timeout,
    /// 200 with a truncated JSON body.
    Malformed,
}

/// A fault waiting for the calls it matches.
#[derive(Clone, Debug)]
struct InjectedFault {
    path: String,
    /// The whole path, not a prefix.
    exact: bool,
    fault: Fault,
    /// How many more calls get it (`None`: until cleared).
    times: Option<u32>,
    /// Only calls with this account's token.
    account: Option<u64>,
}

/// One request the fake received.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub query: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
}

impl Call {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Debug)]
struct Pin {
    id: u64,
    code: String,
    client_identifier: String,
    product: String,
    created: Instant,
    created_at: jiff::Timestamp,
    approved_by: Option<u64>,
    expired: bool,
}

/// A share of a server with an account: accepted, or an invitation not accepted yet.
#[derive(Clone, Copy, Debug)]
struct Share {
    id: u64,
    accepted: bool,
}

struct World {
    accounts: BTreeMap<u64, Account>,
    servers: BTreeMap<String, Server>,
    shares: BTreeMap<(String, u64), Share>,
    next_share: u64,
    friends: BTreeSet<(u64, u64)>,
    /// (from, to): a friend request not accepted yet.
    requests: BTreeSet<(u64, u64)>,
    homes: BTreeSet<(u64, u64)>,
    resources: Vec<(u64, Resource)>,
    pins: BTreeMap<u64, Pin>,
    next_pin: u64,
    /// (path or prefix, exact, fault, times left).
    faults: Vec<InjectedFault>,
    latency: Duration,
    path_latency: Vec<(String, Duration)>,
    calls: Vec<Call>,
    /// `/api/v2/friends` answers 410 (plex.tv since 2026) unless turned off.
    friends_gone: bool,
    /// `/api/v2/home/users` answers a bare array instead of the object.
    home_as_array: bool,
    /// Every call is printed to standard output (`call METHOD PATH`), for the benchmarks.
    echo_calls: bool,
}

impl Default for World {
    fn default() -> Self {
        World {
            accounts: BTreeMap::new(),
            servers: BTreeMap::new(),
            shares: BTreeMap::new(),
            next_share: 1,
            friends: BTreeSet::new(),
            requests: BTreeSet::new(),
            homes: BTreeSet::new(),
            resources: Vec::new(),
            pins: BTreeMap::new(),
            next_pin: 1,
            faults: Vec::new(),
            latency: Duration::ZERO,
            path_latency: Vec::new(),
            calls: Vec::new(),
            friends_gone: true,
            home_as_array: false,
            echo_calls: false,
        }
    }
}

/// A running stand-in for plex.tv. Cheap to clone; every clone controls the same fake.
#[derive(Clone)]
pub struct FakePlex {
    world: Arc<Mutex<World>>,
    address: SocketAddr,
    app_address: SocketAddr,
}

fn random_text(len: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..len).map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char).collect()
}

impl FakePlex {
    /// Starts the API and the app page on free ports of 127.0.0.1.
    pub async fn start() -> std::io::Result<FakePlex> {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        Self::start_on(any, any).await
    }

    /// Starts the API on `addr` and the app page (another origin, as app.plex.tv) on `app_addr`.
    pub async fn start_on(addr: SocketAddr, app_addr: SocketAddr) -> std::io::Result<FakePlex> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let app_listener = tokio::net::TcpListener::bind(app_addr).await?;
        let fake = FakePlex {
            world: Arc::new(Mutex::new(World::default())),
            address: listener.local_addr()?,
            app_address: app_listener.local_addr()?,
        };
        let (api, page) = routers(fake.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, api).await;
        });
        tokio::spawn(async move {
            let _ = axum::serve(app_listener, page).await;
        });
        Ok(fake)
    }

    fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The API base (plex.tv, clients.plex.tv and community.plex.tv).
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The app base (app.plex.tv): another origin than the API.
    pub fn app_url(&self) -> String {
        format!("http://{}", self.app_address)
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn add_account(&self, account: Account) {
        self.world().accounts.insert(account.id, account);
    }

    /// Removes the account (its token stops working).
    pub fn remove_account(&self, id: u64) {
        self.world().accounts.remove(&id);
    }

    /// Gives the account a new token (the old one stops working), as signing out everywhere does.
    pub fn revoke_token(&self, id: u64) {
        if let Some(account) = self.world().accounts.get_mut(&id) {
            account.token = random_text(20);
        }
    }

    pub fn token_of(&self, account: u64) -> Option<String> {
        self.world().accounts.get(&account).map(|a| a.token.clone())
    }

    pub fn add_server(&self, server: Server) {
        self.world().servers.insert(server.client_identifier.clone(), server);
    }

    fn set_share(&self, client_identifier: &str, member: u64, accepted: bool) {
        let mut world = self.world();
        let id = world.next_share;
        world.next_share += 1;
        let share = world.shares.entry((client_identifier.to_owned(), member)).or_insert(Share { id, accepted });
        share.accepted = accepted;
    }

    /// Shares the server with `member`, accepted.
    pub fn share_server(&self, client_identifier: &str, member: u64) {
        self.set_share(client_identifier, member, true);
    }

    /// Invites `member` to the server: pending until accepted (not a member meanwhile).
    pub fn invite_to_server(&self, client_identifier: &str, member: u64) {
        self.set_share(client_identifier, member, false);
    }

    pub fn unshare_server(&self, client_identifier: &str, member: u64) {
        self.world().shares.remove(&(client_identifier.to_owned(), member));
    }

    /// Makes `a` and `b` friends (both ways).
    pub fn add_friend(&self, a: u64, b: u64) {
        let mut world = self.world();
        world.friends.insert((a, b));
        world.friends.insert((b, a));
    }

    pub fn remove_friend(&self, a: u64, b: u64) {
        let mut world = self.world();
        world.friends.remove(&(a, b));
        world.friends.remove(&(b, a));
    }

    /// `from` asks `to` to be friends; not accepted (`pending_sent` / `pending_received`).
    pub fn add_friend_request(&self, from: u64, to: u64) {
        self.world().requests.insert((from, to));
    }

    pub fn add_home_member(&self, owner: u64, member: u64) {
        self.world().homes.insert((owner, member));
    }

    pub fn add_resource(&self, owner: u64, resource: Resource) {
        self.world().resources.push((owner, resource));
    }

    /// Whether `GET /api/v2/friends` answers 410 (the default, as plex.tv) or its old JSON.
    pub fn set_friends_gone(&self, gone: bool) {
        self.world().friends_gone = gone;
    }

    /// Prints every call to standard output as `call METHOD PATH` (the benchmarks count them).
    pub fn set_echo_calls(&self, echo: bool) {
        self.world().echo_calls = echo;
    }

    /// Whether `GET /api/v2/home/users` answers a bare array instead of the object.
    pub fn set_home_as_array(&self, array: bool) {
        self.world().home_as_array = array;
    }

    fn inject(&self, path: &str, exact: bool, fault: Fault, times: Option<u32>, account: Option<u64>) {
        self.world().faults.push(InjectedFault { path: path.to_owned(), exact, fault, times, account });
    }

    /// Every call whose path starts with `path_prefix` gets `fault` until cleared.
    pub fn fault(&self, path_prefix: &str, fault: Fault) {
        self.inject(path_prefix, false, fault, None, None);
    }

    /// Every call to exactly `path` (such as [`GRAPHQL_PATH`]) gets `fault` until cleared.
    pub fn fault_exact(&self, path: &str, fault: Fault) {
        self.inject(path, true, fault, None, None);
    }

    /// Only the next `times` matching calls get `fault`.
    pub fn fault_times(&self, path_prefix: &str, fault: Fault, times: u32) {
        self.inject(path_prefix, false, fault, Some(times), None);
    }

    /// Only calls with `account`'s token whose path starts with `path_prefix` get `fault` (the
    /// person's call fails, the owner's same call does not), until cleared.
    pub fn fault_for(&self, account: u64, path_prefix: &str, fault: Fault) {
        self.inject(path_prefix, false, fault, None, Some(account));
    }

    pub fn clear_faults(&self) {
        self.world().faults.clear();
    }

    /// Added before every API answer.
    pub fn set_latency(&self, latency: Duration) {
        self.world().latency = latency;
    }

    pub fn set_path_latency(&self, path_prefix: &str, latency: Duration) {
        self.world().path_latency.push((path_prefix.to_owned(), latency));
    }

    pub fn calls(&self) -> Vec<Call> {
        self.world().calls.clone()
    }

    pub fn clear_calls(&self) {
        self.world().calls.clear();
    }

    /// Approves the PIN as `account` would in the browser.
    pub fn approve_pin(&self, pin_id: u64, account: u64) -> bool {
        let mut world = self.world();
        if !world.accounts.contains_key(&account) {
            return false;
        }
        match world.pins.get_mut(&pin_id) {
            Some(pin) if !pin.expired => {
                pin.approved_by = Some(account);
                true
            }
            _ => false,
        }
    }

    pub fn approve_code(&self, code: &str, account: u64) -> bool {
        let id = self.world().pins.values().find(|p| p.code == code).map(|p| p.id);
        id.is_some_and(|id| self.approve_pin(id, account))
    }

    pub fn expire_pin(&self, pin_id: u64) {
        if let Some(pin) = self.world().pins.get_mut(&pin_id) {
            pin.expired = true;
        }
    }

    /// Loads the demo: an owner with a server, a friend, a server member, a stranger, someone
    /// whose friend request the owner has not accepted, and someone who registered a server of
    /// their own under the demo server's identifier, with fixed tokens. Returns (account, role)
    /// pairs.
    pub fn load_demo(&self) -> Vec<(Account, &'static str)> {
        let people = [
            (9001, "demo-owner", "owns \"Demo Server\" and the source: always allowed"),
            (9002, "demo-friend", "a friend of the owner: allowed while friends are allowed"),
            (9003, "demo-member", "\"Demo Server\" is shared with them: allowed"),
            (9004, "demo-stranger", "neither friend nor member: refused"),
            (9005, "demo-requester", "asked to be the owner's friend, not accepted yet: refused"),
            (9006, "demo-claimer", "registered a server of their own as \"demo-server\": refused"),
        ];
        let mut accounts = Vec::new();
        for (id, name, role) in people {
            let mut account = Account::new(id, name);
            account.token = format!("{name}-token");
            account.title = name.replace('-', " ");
            self.add_account(account.clone());
            accounts.push((account, role));
        }
        self.add_server(Server::new("Demo Server", DEMO_SERVER_ID, 9001));
        self.share_server(DEMO_SERVER_ID, 9003);
        self.add_friend(9001, 9002);
        self.add_friend_request(9005, 9001);
        self.add_resource(
            9006,
            Resource {
                name: "Demo Server".into(),
                client_identifier: DEMO_SERVER_ID.into(),
                provides: "server".into(),
            },
        );
        let mut kid = Account::managed(9007, "demo kid");
        kid.token = "demo-kid-token".into();
        self.add_account(kid.clone());
        self.add_home_member(9001, 9007);
        self.share_server(DEMO_SERVER_ID, 9007);
        accounts.push((
            kid,
            "a managed Plex Home user (no username), \"Demo Server\" shared: allowed, asked for a username",
        ));
        accounts
    }

    /// Adds `count` accounts (Plex ids from `first`) the demo server is shared with (benchmarks),
    /// each with the token `member-<id>-token`.
    pub fn add_demo_members(&self, first: u64, count: u64) {
        for id in first..first + count {
            let mut account = Account::new(id, &format!("member-{id}"));
            account.token = format!("member-{id}-token");
            self.add_account(account);
            self.share_server(DEMO_SERVER_ID, id);
        }
    }

    /// A world for a scale benchmark: `servers` owners (Plex ids [`SCALE_FIRST_OWNER`]…, tokens
    /// `scale-owner-N-token`, N from 1), each owning the server `scale-server-N`, and `members`
    /// accounts (Plex ids [`SCALE_FIRST_MEMBER`]…, tokens `scale-member-ID-token`, usernames
    /// `scale-member-ID`), the one with Plex id ID shared with server `ID % servers + 1`. Fixed
    /// tokens let a benchmark sign any of them in.
    pub fn add_scale_world(&self, servers: u64, members: u64) {
        if servers == 0 {
            return;
        }
        for n in 1..=servers {
            let mut owner = Account::new(SCALE_FIRST_OWNER + n - 1, &format!("scale-owner-{n}"));
            owner.token = format!("scale-owner-{n}-token");
            self.add_account(owner);
            self.add_server(Server::new(
                &format!("Scale Server {n}"),
                &format!("scale-server-{n}"),
                SCALE_FIRST_OWNER + n - 1,
            ));
        }
        for i in 0..members {
            let id = SCALE_FIRST_MEMBER + i;
            let mut member = Account::new(id, &format!("scale-member-{id}"));
            member.token = format!("scale-member-{id}-token");
            self.add_account(member);
            self.share_server(&format!("scale-server-{}", id % servers + 1), id);
        }
    }
}

/// The demo server's client identifier.
pub const DEMO_SERVER_ID: &str = "demo-server";

/// The Plex id of the first owner of [`FakePlex::add_scale_world`].
pub const SCALE_FIRST_OWNER: u64 = 9101;

/// The Plex id of the first member of [`FakePlex::add_scale_world`].
pub const SCALE_FIRST_MEMBER: u64 = 1_000_000;

/// The community GraphQL endpoint's path (`POST`), on the API origin.
pub const GRAPHQL_PATH: &str = "/api";

/// The API origin's router and the app page's.
fn routers(fake: FakePlex) -> (Router, Router) {
    let api = Router::new()
        .route("/api/v2/pins", post(create_pin))
        .route("/api/v2/pins.json", post(create_pin))
        .route("/api/v2/pins/{id}", get(poll_pin))
        .route("/api/v2/user", get(user))
        .route("/api/v2/resources", get(resources))
        .route("/api/v2/shared_servers/owned/accepted", get(accepted_shares))
        .route("/api/v2/shared_servers/owned/pending", get(pending_shares))
        .route("/api/servers/{id}/shared_servers", get(server_shares))
        .route("/api", post(community))
        .route("/api/v2/friends", get(friends))
        .route("/api/v2/home/users", get(home_users))
        .route("/api/home/users", get(home_users_xml))
        .layer(middleware::from_fn_with_state(fake.clone(), faults))
        .layer(middleware::from_fn_with_state(fake.clone(), log_and_cors))
        .with_state(fake.clone());
    let page = Router::new()
        .route("/auth", get(auth_page))
        .route("/auth/approve", post(approve))
        .layer(middleware::from_fn_with_state(fake.clone(), log_and_cors))
        .with_state(fake);
    (api, page)
}

fn cors(headers: &mut HeaderMap) {
    headers.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    headers.insert("access-control-allow-methods", HeaderValue::from_static("GET, POST, OPTIONS"));
    headers.insert(
        "access-control-allow-headers",
        HeaderValue::from_static(
            "Accept, Content-Type, X-Plex-Product, X-Plex-Version, X-Plex-Client-Identifier, X-Plex-Device-Vendor, \
             X-Plex-Token, X-Plex-Platform, X-Plex-Device, X-Plex-Device-Name",
        ),
    );
    headers.insert("access-control-max-age", HeaderValue::from_static("600"));
}

/// Logs every request and answers CORS (preflights directly).
async fn log_and_cors(State(fake): State<FakePlex>, request: Request, next: Next) -> Response {
    let call = Call {
        method: request.method().to_string(),
        path: request.uri().path().to_owned(),
        query: request.uri().query().unwrap_or_default().to_owned(),
        headers: request
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
            .collect(),
    };
    {
        let mut world = fake.world();
        if world.echo_calls {
            println!("call {} {}", call.method, call.path);
        }
        world.calls.push(call);
    }
    let mut response = if request.method() == Method::OPTIONS {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(request).await
    };
    cors(response.headers_mut());
    response
}

/// Applies latency and faults to API calls.
async fn faults(State(fake): State<FakePlex>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let token = request.headers().get("x-plex-token").and_then(|t| t.to_str().ok()).map(str::to_owned);
    let (latency, fault) = {
        let mut world = fake.world();
        let caller = token.and_then(|t| world.accounts.values().find(|a| a.token == t).map(|a| a.id));
        let extra: Duration =
            world.path_latency.iter().filter(|(p, _)| path.starts_with(p.as_str())).map(|(_, d)| *d).sum();
        let latency = world.latency + extra;
        let mut fault = None;
        for injected in world.faults.iter_mut() {
            let matches = if injected.exact { path == injected.path } else { path.starts_with(injected.path.as_str()) };
            let whose = injected.account.is_none_or(|account| caller == Some(account));
            if matches && whose && injected.times.is_none_or(|t| t > 0) {
                if let Some(t) = injected.times.as_mut() {
                    *t -= 1;
                }
                fault = Some(injected.fault.clone());
                break;
            }
        }
        world.faults.retain(|injected| injected.times.is_none_or(|t| t > 0));
        (latency, fault)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    match fault {
        None => next.run(request).await,
        Some(Fault::Status(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            error(status, 2000, "Injected failure")
        }
        Some(Fault::RateLimited { retry_after_secs }) => {
            let mut response = error(StatusCode::TOO_MANY_REQUESTS, 1004, "Too many requests");
            if let Some(secs) = retry_after_secs {
                response.headers_mut().insert(RETRY_AFTER, secs.into());
            }
            response
        }
        Some(Fault::Timeout) => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        Some(Fault::Malformed) => ([(CONTENT_TYPE, "application/json")], "{\"id\": 1, \"user").into_response(),
    }
}

fn error(status: StatusCode, code: u32, message: &str) -> Response {
    let body = json!({"errors": [{"code": code, "message": message, "status": status.as_u16()}]});
    (status, axum::Json(body)).into_response()
}

fn unauthorized() -> Response {
    error(StatusCode::UNAUTHORIZED, 1001, "User could not be authenticated")
}

/// An answer that ends a call early (an error).
type Early = Box<Response>;

/// What every API call checks: the client identifier, and whether JSON was asked for.
struct Caller {
    client_identifier: String,
    json: bool,
    token: Option<String>,
}

fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    query.and_then(|q| {
        q.split('&').filter_map(|pair| pair.split_once('=')).find(|(k, _)| *k == name).map(|(_, v)| v.to_owned())
    })
}

fn caller(headers: &HeaderMap, query: Option<&str>) -> Result<Caller, Early> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let client_identifier = header("x-plex-client-identifier")
        .or_else(|| query_value(query, "X-Plex-Client-Identifier"))
        .filter(|c| !c.is_empty())
        .ok_or_else(|| Box::new(error(StatusCode::BAD_REQUEST, 1000, "X-Plex-Client-Identifier is missing")))?;
    let json = headers.get(ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("application/json"));
    let token = header("x-plex-token").or_else(|| query_value(query, "X-Plex-Token")).filter(|t| !t.is_empty());
    Ok(Caller { client_identifier, json, token })
}

/// JSON, or plex.tv's XML when JSON was not asked for.
fn answer(caller: &Caller, status: StatusCode, value: Value, element: &str) -> Response {
    if caller.json {
        return (status, axum::Json(value)).into_response();
    }
    xml_answer(status, xml(element, &value))
}

fn xml_answer(status: StatusCode, body: String) -> Response {
    (status, [(CONTENT_TYPE, "application/xml")], body).into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// An element with the scalar members of `value` as attributes and `inner` inside.
fn element(name: &str, value: &Value, inner: &str) -> String {
    let attributes: String = value
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, v)| !v.is_object() && !v.is_array())
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                Value::Bool(b) => u8::from(*b).to_string(),
                other => other.to_string(),
            };
            format!(" {k}=\"{}\"", escape(&text))
        })
        .collect();
    if inner.is_empty() {
        format!("<{name}{attributes}/>")
    } else {
        format!("<{name}{attributes}>{inner}</{name}>")
    }
}

fn xml(name: &str, value: &Value) -> String {
    fn node(name: &str, value: &Value) -> String {
        match value {
            Value::Array(items) => {
                let child = name.trim_end_matches('s');
                let inner: String = items.iter().map(|i| node(child, i)).collect();
                format!("<{name} size=\"{}\">{inner}</{name}>", items.len())
            }
            Value::Object(_) => element(name, value, ""),
            other => format!("<{name}>{}</{name}>", escape(&other.to_string())),
        }
    }
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}", node(name, value))
}

fn pin_json(pin: &Pin, world: &World) -> Value {
    let left = PIN_LIFETIME.saturating_sub(pin.created.elapsed().as_secs());
    let expires_at = pin.created_at + jiff::SignedDuration::from_secs(PIN_LIFETIME as i64);
    let token = pin.approved_by.and_then(|id| world.accounts.get(&id)).map(|a| a.token.clone());
    json!({
        "id": pin.id, "code": pin.code, "product": pin.product, "trusted": false, "qr": "",
        "clientIdentifier": pin.client_identifier, "location": {"code": "US"},
        "expiresIn": left, "createdAt": pin.created_at.to_string(), "expiresAt": expires_at.to_string(),
        "authToken": token, "newRegistration": null,
    })
}

async fn create_pin(State(fake): State<FakePlex>, request: Request) -> Response {
    let caller = match caller(request.headers(), request.uri().query()) {
        Ok(c) => c,
        Err(response) => return *response,
    };
    let product = request.headers().get("x-plex-product").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let mut world = fake.world();
    let id = world.next_pin;
    world.next_pin += 1;
    let pin = Pin {
        id,
        code: random_text(25),
        client_identifier: caller.client_identifier.clone(),
        product,
        created: Instant::now(),
        created_at: jiff::Timestamp::now(),
        approved_by: None,
        expired: false,
    };
    let value = pin_json(&pin, &world);
    world.pins.insert(id, pin);
    answer(&caller, StatusCode::CREATED, value, "pin")
}

async fn poll_pin(State(fake): State<FakePlex>, Path(id): Path<String>, request: Request) -> Response {
    let caller = match caller(request.headers(), request.uri().query()) {
        Ok(c) => c,
        Err(response) => return *response,
    };
    let world = fake.world();
    let pin = id.trim_end_matches(".json").parse::<u64>().ok().and_then(|id| world.pins.get(&id));
    match pin {
        Some(pin)
            if pin.client_identifier == caller.client_identifier
                && !pin.expired
                && pin.created.elapsed().as_secs() < PIN_LIFETIME =>
        {
            answer(&caller, StatusCode::OK, pin_json(pin, &world), "pin")
        }
        _ => error(StatusCode::NOT_FOUND, 1020, "Code not found or expired"),
    }
}

/// The account of the caller's token, or the 401 answer.
fn account_of(world: &World, caller: &Caller) -> Result<Account, Early> {
    let token = caller.token.as_deref().ok_or_else(|| Box::new(unauthorized()))?;
    world.accounts.values().find(|a| a.token == token).cloned().ok_or_else(|| Box::new(unauthorized()))
}

/// Runs `build` for the caller's account: its answer (JSON or XML), or an early answer.
fn with_caller(
    fake: &FakePlex,
    request: &Request,
    build: impl FnOnce(&World, &Account, &Caller) -> Response,
) -> Response {
    let caller = match caller(request.headers(), request.uri().query()) {
        Ok(c) => c,
        Err(response) => return *response,
    };
    let world = fake.world();
    match account_of(&world, &caller) {
        Ok(account) => build(&world, &account, &caller),
        Err(response) => *response,
    }
}

/// Runs `build` for the caller's account and answers it.
fn with_account(
    fake: &FakePlex,
    request: &Request,
    element: &str,
    build: impl FnOnce(&World, &Account) -> Value,
) -> Response {
    with_caller(fake, request, |world, account, caller| answer(caller, StatusCode::OK, build(world, account), element))
}

async fn user(State(fake): State<FakePlex>, request: Request) -> Response {
    with_account(&fake, &request, "user", |world, a| {
        let mut value = a.json();
        value["friendlyName"] = json!("");
        value["locale"] = Value::Null;
        value["confirmed"] = json!(true);
        value["home"] = json!(a.home || world.homes.iter().any(|(o, m)| *o == a.id || *m == a.id));
        value["homeAdmin"] = json!(world.homes.iter().any(|(o, _)| *o == a.id));
        value["restricted"] = json!(a.home);
        value["guest"] = json!(false);
        value["subscription"] = json!({"active": false, "status": "Inactive"});
        value["authToken"] = json!(a.token);
        value
    })
}

fn shared_with(world: &World, server: &str, member: u64) -> bool {
    world.shares.get(&(server.to_owned(), member)).is_some_and(|s| s.accepted)
}

async fn resources(State(fake): State<FakePlex>, request: Request) -> Response {
    with_account(&fake, &request, "resources", |world, a| {
        let mut items = Vec::new();
        for server in world.servers.values() {
            let owned = server.owner == a.id;
            if !owned && !shared_with(world, &server.client_identifier, a.id) {
                continue;
            }
            let owner = world.accounts.get(&server.owner);
            items.push(json!({
                "name": server.name, "product": "Plex Media Server", "productVersion": "1.40.0",
                "platform": "Linux", "clientIdentifier": server.client_identifier, "provides": server.provides,
                "owned": owned,
                "ownerId": if owned { Value::Null } else { json!(server.owner) },
                "sourceTitle": if owned { Value::Null } else { json!(owner.map(|o| o.title.clone())) },
                "home": world.homes.contains(&(server.owner, a.id)),
                "accessToken": random_text(20), "presence": true, "connections": [],
            }));
        }
        for (_, resource) in world.resources.iter().filter(|(owner, _)| *owner == a.id) {
            items.push(json!({
                "name": resource.name, "product": "Plex Web", "clientIdentifier": resource.client_identifier,
                "provides": resource.provides, "owned": true, "ownerId": Value::Null, "sourceTitle": Value::Null,
                "home": false, "presence": true, "connections": [],
            }));
        }
        Value::Array(items)
    })
}

/// The owner's shares of their servers, accepted or pending, as the clients.plex.tv JSON.
fn shares_json(world: &World, owner: &Account, accepted: bool) -> Value {
    let items: Vec<Value> = world
        .shares
        .iter()
        .filter(|(_, share)| share.accepted == accepted)
        .filter_map(|((server, member), share)| {
            let server = world.servers.get(server).filter(|s| s.owner == owner.id)?;
            let invited = world.accounts.get(member)?;
            Some(json!({
                "id": share.id, "name": server.name, "ownerId": owner.id, "invitedId": invited.id,
                "invitedEmail": if invited.email.is_empty() { Value::Null } else { json!(invited.email) },
                "serverId": share.id, "machineIdentifier": server.client_identifier, "owned": true,
                "allLibraries": true, "numLibraries": 1, "libraries": [{"id": 1, "key": 1, "title": "Movies", "type": "movie"}],
                "invited": {"id": invited.id, "uuid": invited.uuid, "title": invited.title,
                            "username": invited.username, "email": invited.email, "thumb": invited.thumb,
                            "restricted": invited.home, "home": invited.home},
                "acceptedAt": if accepted { json!(1_700_000_000) } else { Value::Null },
                "invitedAt": 1_699_000_000,
            }))
        })
        .collect();
    Value::Array(items)
}

async fn accepted_shares(State(fake): State<FakePlex>, request: Request) -> Response {
    with_account(&fake, &request, "SharedServers", |world, a| shares_json(world, a, true))
}

async fn pending_shares(State(fake): State<FakePlex>, request: Request) -> Response {
    with_account(&fake, &request, "SharedServers", |world, a| shares_json(world, a, false))
}

/// The older XML shares of one server (its owner only); pending invitations have
/// `acceptedAt="0"`, managed users empty `username` and `email`.
async fn server_shares(State(fake): State<FakePlex>, Path(id): Path<String>, request: Request) -> Response {
    with_caller(&fake, &request, |world, a, _| {
        let Some(server) = world.servers.get(&id) else {
            return error(StatusCode::NOT_FOUND, 1002, "Server not found");
        };
        if server.owner != a.id {
            return error(StatusCode::FORBIDDEN, 1003, "Access denied");
        }
        let shares: Vec<String> = world
            .shares
            .iter()
            .filter(|((s, _), _)| *s == id)
            .filter_map(|((_, member), share)| {
                let m = world.accounts.get(member)?;
                let attributes = json!({
                    "id": share.id, "username": m.username, "email": m.email, "userID": m.id,
                    "accessToken": random_text(20), "name": server.name,
                    "acceptedAt": if share.accepted { 1_700_000_000 } else { 0 }, "invitedAt": 1_699_000_000,
                    "allowSync": false, "allLibraries": true, "owned": false,
                });
                Some(element(
                    "SharedServer",
                    &attributes,
                    "<Section id=\"1\" key=\"1\" title=\"Movies\" type=\"movie\" shared=\"1\"/>",
                ))
            })
            .collect();
        let container = json!({
            "friendlyName": "myPlex", "identifier": "com.plexapp.plugins.myplex",
            "machineIdentifier": server.client_identifier, "size": shares.len(),
        });
        xml_answer(
            StatusCode::OK,
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}",
                element("MediaContainer", &container, &shares.concat())
            ),
        )
    })
}

/// The community GraphQL endpoint: `allFriendsV2` (accepted friends only); anything else is a
/// GraphQL error, with status 200 as plex.tv answers.
async fn community(State(fake): State<FakePlex>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 1 << 20).await else {
        return error(StatusCode::BAD_REQUEST, 1000, "Bad request");
    };
    let request = Request::from_parts(parts, axum::body::Body::from(Bytes::clone(&body)));
    let query = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("query").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default();
    with_caller(&fake, &request, |world, a, _| {
        if !query.contains("allFriendsV2") {
            let body = json!({"errors": [{"message": "Cannot query this field", "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}]});
            return (StatusCode::OK, axum::Json(body)).into_response();
        }
        let friends: Vec<Value> = world
            .friends
            .iter()
            .filter(|(of, _)| *of == a.id)
            .filter_map(|(_, friend)| world.accounts.get(friend))
            .map(|f| {
                let text = |t: &str| if t.is_empty() { Value::Null } else { json!(t) };
                json!({"user": {"id": f.uuid, "idRaw": f.id, "username": text(&f.username),
                                "displayName": text(&f.title), "avatar": f.thumb},
                       "createdAt": "2026-01-01T00:00:00.000Z"})
            })
            .collect();
        (StatusCode::OK, axum::Json(json!({"data": {"allFriendsV2": friends}}))).into_response()
    })
}

/// Retired on plex.tv (410, XML body) unless [`FakePlex::set_friends_gone`] turned it back on:
/// then accepted friends, friend requests both ways (`pending_sent`, `pending_received`) and the
/// owner's managed Home users, filtered by `?status=`.
async fn friends(State(fake): State<FakePlex>, request: Request) -> Response {
    if fake.world().friends_gone {
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response code=\"410\" status=\"This endpoint was deprecated and removed\"/>";
        return (StatusCode::GONE, [(CONTENT_TYPE, "text/xml")], body).into_response();
    }
    let wanted = query_value(request.uri().query(), "status");
    with_account(&fake, &request, "friends", |world, a| {
        let mut entries: Vec<(Value, &str)> = Vec::new();
        for (_, friend) in world.friends.iter().filter(|(of, _)| *of == a.id) {
            if let Some(f) = world.accounts.get(friend) {
                entries.push((f.friend_json(), "accepted"));
            }
        }
        for (from, to) in &world.requests {
            let (other, status) = match (*from == a.id, *to == a.id) {
                (true, _) => (to, "pending_sent"),
                (_, true) => (from, "pending_received"),
                _ => continue,
            };
            if let Some(f) = world.accounts.get(other) {
                entries.push((f.friend_json(), status));
            }
        }
        for (_, member) in world.homes.iter().filter(|(owner, _)| *owner == a.id) {
            if let Some(m) = world.accounts.get(member).filter(|m| m.home) {
                entries.push((m.friend_json(), "accepted"));
            }
        }
        let items = entries
            .into_iter()
            .filter(|(_, status)| wanted.as_deref().is_none_or(|w| w == *status))
            .map(|(mut value, status)| {
                value["status"] = json!(status);
                value
            })
            .collect();
        Value::Array(items)
    })
}

/// The Home's users, the admin first (with `admin: true`), as python-plexapi's fixtures show.
fn home_members(world: &World, owner: &Account) -> Option<Vec<Value>> {
    let members: Vec<&Account> =
        world.homes.iter().filter(|(o, _)| *o == owner.id).filter_map(|(_, m)| world.accounts.get(m)).collect();
    if members.is_empty() {
        return None;
    }
    let user = |a: &Account, admin: bool| {
        let mut value = a.json();
        value["admin"] = json!(admin);
        value["guest"] = json!(false);
        value["restricted"] = json!(a.home);
        value["home"] = json!(true);
        value["protected"] = json!(false);
        value
    };
    Some(std::iter::once(user(owner, true)).chain(members.into_iter().map(|m| user(m, false))).collect())
}

fn no_home() -> Response {
    error(StatusCode::NOT_FOUND, 1002, "Home not found")
}

async fn home_users(State(fake): State<FakePlex>, request: Request) -> Response {
    let as_array = fake.world().home_as_array;
    with_caller(&fake, &request, |world, a, caller| {
        let Some(users) = home_members(world, a) else { return no_home() };
        let value = if as_array {
            Value::Array(users)
        } else {
            json!({"id": a.id, "name": format!("{}'s Home", a.title), "guestUserID": Value::Null,
                   "guestUserUUID": Value::Null, "guestEnabled": false, "subscription": false, "users": users})
        };
        answer(caller, StatusCode::OK, value, "Home")
    })
}

/// The v1 Home users: always XML.
async fn home_users_xml(State(fake): State<FakePlex>, request: Request) -> Response {
    with_caller(&fake, &request, |world, a, _| {
        let Some(users) = home_members(world, a) else { return no_home() };
        let inner: String = users.iter().map(|u| element("User", u, "")).collect();
        let container =
            json!({"friendlyName": "myPlex", "identifier": "com.plexapp.plugins.myplex", "size": users.len()});
        xml_answer(
            StatusCode::OK,
            format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}", element("MediaContainer", &container, &inner)),
        )
    })
}

/// The app page: which account approves the PIN of `#?clientID=…&code=…`.
async fn auth_page(State(fake): State<FakePlex>) -> Html<String> {
    let buttons: String = fake
        .world()
        .accounts
        .values()
        .map(|a| {
            // A managed Home user has no username: its title, and its id in the button's id.
            let key = if a.username.is_empty() { a.id.to_string() } else { a.username.clone() };
            let name = if a.username.is_empty() { &a.title } else { &a.username };
            format!(
                "<li><button type=\"button\" id=\"approve-{key}\" data-account=\"{id}\">Continue as {name}</button> <span>{title}</span></li>",
                key = escape(&key),
                name = escape(name),
                id = a.id,
                title = escape(&a.title),
            )
        })
        .collect();
    Html(format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Plex (fake)</title></head><body style=\"font-family: system-ui, sans-serif; max-width: 30rem; margin: 2rem auto\">\
         <h1>Sign in to Plex (fake)</h1><p id=\"status\" role=\"status\"></p><ul id=\"accounts\" style=\"list-style: none; padding: 0\">{buttons}</ul>\
         <script>{AUTH_SCRIPT}</script></body></html>"
    ))
}

const AUTH_SCRIPT: &str = r#"
(function () {
  var hash = location.hash.replace(/^#!?\??/, "");
  var params = new URLSearchParams(hash);
  var code = params.get("code"), clientID = params.get("clientID"), forwardUrl = params.get("forwardUrl");
  var status = document.getElementById("status");
  if (!code || !clientID) { status.textContent = "No PIN code in this address."; }
  document.querySelectorAll("button[data-account]").forEach(function (b) {
    b.addEventListener("click", function () {
      var body = new URLSearchParams({ code: code || "", clientID: clientID || "", account: b.dataset.account });
      fetch("/auth/approve", { method: "POST", body: body }).then(function (r) {
        if (!r.ok) { status.textContent = "This PIN is unknown or expired."; return; }
        if (forwardUrl) { window.location.href = forwardUrl; return; }
        status.textContent = "Approved. You can close this window.";
        window.close();
      });
    });
  });
})();
"#;

#[derive(Deserialize)]
struct Approval {
    code: String,
    #[serde(rename = "clientID")]
    client_id: String,
    account: u64,
}

async fn approve(State(fake): State<FakePlex>, Form(form): Form<Approval>) -> StatusCode {
    let pin =
        fake.world().pins.values().find(|p| p.code == form.code && p.client_identifier == form.client_id).map(|p| p.id);
    match pin {
        Some(id) if fake.approve_pin(id, form.account) => StatusCode::NO_CONTENT,
        _ => StatusCode::NOT_FOUND,
    }
}
