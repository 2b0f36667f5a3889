//! A local stand-in for plex.tv, for plexid's tests, benchmarks and `plexid demo`.
//!
//! It answers what plexid and its login page use, the way plex.tv does: `POST /api/v2/pins`,
//! `GET /api/v2/pins/{id}`, `GET /api/v2/user`, `GET /api/v2/resources`, `GET /api/v2/friends`,
//! `GET /api/v2/home/users`, and the page a browser reaches from the app URL
//! (`/auth#?clientID=…&code=…&forwardUrl=…`) where a tester picks the account that approves the
//! PIN. Like plex.tv: JSON only with `Accept: application/json` (XML otherwise),
//! `X-Plex-Client-Identifier` required (400), unknown token 401, CORS for browsers.
//!
//! Tests control it directly: accounts, servers and their members, friends, Plex Home members,
//! per-path faults and latency, and a log of every call it received.
//!
//! This is plex.tv's clock, not plexid's: it reads the system time.
#![allow(clippy::disallowed_methods)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

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
    pub username: String,
    pub email: String,
    pub title: String,
    pub thumb: String,
    pub token: String,
    /// A managed member of someone's Plex Home.
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

    fn json(&self) -> Value {
        json!({
            "id": self.id, "uuid": self.uuid, "username": self.username, "title": self.title,
            "email": self.email, "thumb": self.thumb,
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

/// Another resource of an account (a player, a client).
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
    /// 429 with `Retry-After`.
    RateLimited { retry_after_secs: u64 },
    /// No answer (the connection stays open).
    Timeout,
    /// 200 with a truncated JSON body.
    Malformed,
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

#[derive(Default)]
struct World {
    accounts: BTreeMap<u64, Account>,
    servers: BTreeMap<String, Server>,
    members: BTreeSet<(String, u64)>,
    friends: BTreeSet<(u64, u64)>,
    homes: BTreeSet<(u64, u64)>,
    resources: Vec<(u64, Resource)>,
    pins: BTreeMap<u64, Pin>,
    next_pin: u64,
    faults: Vec<(String, Fault, Option<u32>)>,
    latency: Duration,
    path_latency: Vec<(String, Duration)>,
    calls: Vec<Call>,
}

/// A running stand-in for plex.tv. Cheap to clone; every clone controls the same fake.
#[derive(Clone)]
pub struct FakePlex {
    world: Arc<Mutex<World>>,
    address: SocketAddr,
}

fn random_text(len: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..len).map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char).collect()
}

impl FakePlex {
    /// Starts on a free port of 127.0.0.1.
    pub async fn start() -> std::io::Result<FakePlex> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    pub async fn start_on(addr: SocketAddr) -> std::io::Result<FakePlex> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let address = listener.local_addr()?;
        let fake = FakePlex { world: Arc::new(Mutex::new(World { next_pin: 1, ..Default::default() })), address };
        let app = router(fake.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(fake)
    }

    fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Both the API base (plex.tv) and the app base (app.plex.tv).
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
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

    pub fn token_of(&self, account: u64) -> Option<String> {
        self.world().accounts.get(&account).map(|a| a.token.clone())
    }

    pub fn add_server(&self, server: Server) {
        self.world().servers.insert(server.client_identifier.clone(), server);
    }

    pub fn share_server(&self, client_identifier: &str, member: u64) {
        self.world().members.insert((client_identifier.to_owned(), member));
    }

    pub fn unshare_server(&self, client_identifier: &str, member: u64) {
        self.world().members.remove(&(client_identifier.to_owned(), member));
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

    pub fn add_home_member(&self, owner: u64, member: u64) {
        self.world().homes.insert((owner, member));
    }

    pub fn add_resource(&self, owner: u64, resource: Resource) {
        self.world().resources.push((owner, resource));
    }

    /// Every call whose path starts with `path_prefix` gets `fault` until cleared.
    pub fn fault(&self, path_prefix: &str, fault: Fault) {
        self.world().faults.push((path_prefix.to_owned(), fault, None));
    }

    /// Only the next `times` matching calls get `fault`.
    pub fn fault_times(&self, path_prefix: &str, fault: Fault, times: u32) {
        self.world().faults.push((path_prefix.to_owned(), fault, Some(times)));
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

    /// Loads the demo: an owner with a server, a friend, a server member and a stranger, with
    /// fixed tokens. Returns (account, role) pairs.
    pub fn load_demo(&self) -> Vec<(Account, &'static str)> {
        let people = [
            (9001, "demo-owner", "owns \"Demo Server\" and the source: always allowed"),
            (9002, "demo-friend", "a friend of the owner: allowed while friends are allowed"),
            (9003, "demo-member", "a member of \"Demo Server\": allowed"),
            (9004, "demo-stranger", "neither friend nor member: refused"),
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
        accounts
    }
}

/// The demo server's client identifier.
pub const DEMO_SERVER_ID: &str = "demo-server";

fn router(fake: FakePlex) -> Router {
    let api = Router::new()
        .route("/api/v2/pins", post(create_pin))
        .route("/api/v2/pins.json", post(create_pin))
        .route("/api/v2/pins/{id}", get(poll_pin))
        .route("/api/v2/user", get(user))
        .route("/api/v2/resources", get(resources))
        .route("/api/v2/friends", get(friends))
        .route("/api/v2/home/users", get(home_users))
        .layer(middleware::from_fn_with_state(fake.clone(), faults));
    Router::new()
        .merge(api)
        .route("/auth", get(auth_page))
        .route("/auth/approve", post(approve))
        .layer(middleware::from_fn_with_state(fake.clone(), log_and_cors))
        .with_state(fake)
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
    fake.world().calls.push(call);
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
    let (latency, fault) = {
        let mut world = fake.world();
        let extra: Duration =
            world.path_latency.iter().filter(|(p, _)| path.starts_with(p.as_str())).map(|(_, d)| *d).sum();
        let latency = world.latency + extra;
        let mut fault = None;
        for (prefix, f, times) in world.faults.iter_mut() {
            if path.starts_with(prefix.as_str()) && times.is_none_or(|t| t > 0) {
                if let Some(t) = times {
                    *t -= 1;
                }
                fault = Some(f.clone());
                break;
            }
        }
        world.faults.retain(|(_, _, times)| times.is_none_or(|t| t > 0));
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
            response.headers_mut().insert(RETRY_AFTER, retry_after_secs.into());
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

fn caller(headers: &HeaderMap, query: Option<&str>) -> Result<Caller, Early> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let query_value = |name: &str| {
        query.and_then(|q| {
            q.split('&').filter_map(|pair| pair.split_once('=')).find(|(k, _)| *k == name).map(|(_, v)| v.to_owned())
        })
    };
    let client_identifier = header("x-plex-client-identifier")
        .or_else(|| query_value("X-Plex-Client-Identifier"))
        .filter(|c| !c.is_empty())
        .ok_or_else(|| Box::new(error(StatusCode::BAD_REQUEST, 1000, "X-Plex-Client-Identifier is missing")))?;
    let json = headers.get(ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("application/json"));
    let token = header("x-plex-token").or_else(|| query_value("X-Plex-Token")).filter(|t| !t.is_empty());
    Ok(Caller { client_identifier, json, token })
}

/// JSON, or plex.tv's XML when JSON was not asked for.
fn answer(caller: &Caller, status: StatusCode, value: Value, element: &str) -> Response {
    if caller.json {
        return (status, axum::Json(value)).into_response();
    }
    (status, [(CONTENT_TYPE, "application/xml")], xml(element, &value)).into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn xml(element: &str, value: &Value) -> String {
    fn node(element: &str, value: &Value) -> String {
        match value {
            Value::Array(items) => {
                let child = element.trim_end_matches('s');
                let inner: String = items.iter().map(|i| node(child, i)).collect();
                format!("<{element} size=\"{}\">{inner}</{element}>", items.len())
            }
            Value::Object(map) => {
                let attributes: String = map
                    .iter()
                    .filter(|(_, v)| !v.is_object() && !v.is_array())
                    .map(|(k, v)| {
                        let text = match v {
                            Value::String(s) => s.clone(),
                            Value::Null => String::new(),
                            other => other.to_string(),
                        };
                        format!(" {k}=\"{}\"", escape(&text))
                    })
                    .collect();
                format!("<{element}{attributes}/>")
            }
            other => format!("<{element}>{}</{element}>", escape(&other.to_string())),
        }
    }
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}", node(element, value))
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

/// Runs `build` for the caller's account and answers it.
fn with_account(
    fake: &FakePlex,
    request: &Request,
    element: &str,
    build: impl FnOnce(&World, &Account) -> Value,
) -> Response {
    let caller = match caller(request.headers(), request.uri().query()) {
        Ok(c) => c,
        Err(response) => return *response,
    };
    let world = fake.world();
    match account_of(&world, &caller) {
        Ok(account) => answer(&caller, StatusCode::OK, build(&world, &account), element),
        Err(response) => *response,
    }
}

async fn user(State(fake): State<FakePlex>, request: Request) -> Response {
    with_account(&fake, &request, "user", |_, a| {
        let mut value = a.json();
        value["friendlyName"] = json!("");
        value["locale"] = Value::Null;
        value["confirmed"] = json!(true);
        value["home"] = json!(a.home);
        value["subscription"] = json!({"active": false});
        value["authToken"] = json!(a.token);
        value
    })
}

async fn resources(State(fake): State<FakePlex>, request: Request) -> Response {
    with_account(&fake, &request, "resources", |world, a| {
        let mut items = Vec::new();
        for server in world.servers.values() {
            let owned = server.owner == a.id;
            if owned || world.members.contains(&(server.client_identifier.clone(), a.id)) {
                items.push(json!({
                    "name": server.name, "product": "Plex Media Server", "productVersion": "1.40.0",
                    "platform": "Linux", "clientIdentifier": server.client_identifier, "provides": server.provides,
                    "owned": owned, "ownerId": server.owner, "home": false, "accessToken": random_text(20), "presence": true,
                }));
            }
        }
        for (owner, resource) in world.resources.iter().filter(|(owner, _)| *owner == a.id) {
            items.push(json!({
                "name": resource.name, "product": "Plex Web", "clientIdentifier": resource.client_identifier,
                "provides": resource.provides, "owned": true, "ownerId": owner, "presence": true,
            }));
        }
        Value::Array(items)
    })
}

async fn friends(State(fake): State<FakePlex>, request: Request) -> Response {
    with_account(&fake, &request, "friends", |world, a| {
        let items: Vec<Value> = world
            .friends
            .iter()
            .filter(|(of, _)| *of == a.id)
            .filter_map(|(_, friend)| world.accounts.get(friend))
            .map(|f| {
                let mut value = f.json();
                for (key, v) in [
                    ("friendlyName", json!("")),
                    ("restricted", json!(false)),
                    ("home", json!(false)),
                    ("status", json!("accepted")),
                    ("sharedServers", json!([])),
                    ("sharedSources", json!([])),
                ] {
                    value[key] = v;
                }
                value
            })
            .collect();
        Value::Array(items)
    })
}

async fn home_users(State(fake): State<FakePlex>, request: Request) -> Response {
    with_account(&fake, &request, "home", |world, a| {
        let users: Vec<Value> = world
            .homes
            .iter()
            .filter(|(owner, _)| *owner == a.id)
            .filter_map(|(_, member)| world.accounts.get(member))
            .map(Account::json)
            .collect();
        json!({"id": 1, "name": format!("{}'s Home", a.username), "users": users})
    })
}

/// The app page: which account approves the PIN of `#?clientID=…&code=…`.
async fn auth_page(State(fake): State<FakePlex>) -> Html<String> {
    let buttons: String = fake
        .world()
        .accounts
        .values()
        .map(|a| {
            format!(
                "<li><button type=\"button\" id=\"approve-{name}\" data-account=\"{id}\">Continue as {name}</button> <span>{title}</span></li>",
                name = escape(&a.username),
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
