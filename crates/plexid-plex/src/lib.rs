//! plexid's plex.tv client.
//!
//! * One pooled `reqwest` client (rustls) with connect and per-attempt timeouts, for the three
//!   hosts plex.tv answers on today: plex.tv (the person, devices, Plex Home, the older XML shares
//!   and friends), clients.plex.tv (the owner's accepted shares) and community.plex.tv (friends,
//!   GraphQL). Every call is listed with its fields and sources in `docs/plex-tv.md`.
//! * Every call carries the `X-Plex-*` headers and asks for JSON; the token travels only in the
//!   `X-Plex-Token` header (marked sensitive), never in a URL (D2).
//! * 429 and 5xx answers, timeouts and connection failures are retried with a bounded backoff
//!   that honours `Retry-After` (plex.tv is not known to send one); a 401 is not retried and is
//!   told apart from an outage; a 410 means the call is gone for good.
//! * What plexid learns with a source owner's token is cached fact by fact (identity, servers,
//!   accepted shares, friends, Plex Home), each with its own lifetime; a failure is kept too,
//!   briefly, so a call that keeps failing is not repeated by every sign-in, and never disables
//!   the other facts.
//! * The calls of one sign-in run concurrently (D15), so a returning member costs about one
//!   plex.tv round trip.
//! * A user's JSON never keeps a secret: `authToken` and anything like it are dropped when it is
//!   read, so nothing downstream (mapping `info`, stored rows, events) can hold the token.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use plexid_core::flights::Flights;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// How the client reaches plex.tv.
#[derive(Clone, Debug)]
pub struct PlexConfig {
    /// `https://plex.tv`, or a stand-in's address.
    pub api_url: String,
    /// `https://clients.plex.tv` (the owner's accepted shares).
    pub clients_url: String,
    /// `https://community.plex.tv` (the friends GraphQL API, at `/api`).
    pub community_url: String,
    pub product: String,
    pub version: String,
    pub connect_timeout: Duration,
    /// The time limit of one attempt.
    pub request_timeout: Duration,
    /// Retries after the first attempt of a call that failed in a retryable way.
    pub max_retries: u32,
    /// A `Retry-After` longer than this is not waited for: the call fails as rate limited.
    pub max_retry_wait: Duration,
    /// How long an owner fact plex.tv answered is reused.
    pub owner_cache_ttl: Duration,
    /// How long an owner fact's failure is reused before the call is tried again.
    pub owner_failure_ttl: Duration,
    /// Told about every request sent to plex.tv (the server counts them for `/metrics`).
    pub observer: Observer,
}

/// One request to plex.tv as an [`Observer`] sees it: never the token, never the query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Call<'a> {
    /// The path without its query, numeric segments as `{id}`, a server's identifier as
    /// `{machineIdentifier}` (a bounded set of values).
    pub endpoint: &'a str,
    /// `ok`, `unauthorized`, `rate_limited`, `unavailable` (5xx, timeout, unreachable; retried)
    /// or `failed` (another answer, or one that cannot be read).
    pub outcome: &'static str,
    pub elapsed: Duration,
}

/// What an [`Observer`] calls.
type Hook = Arc<dyn Fn(&Call<'_>) + Send + Sync>;

/// A hook told about each request the client sends; none by default.
#[derive(Clone, Default)]
pub struct Observer(Option<Hook>);

impl Observer {
    pub fn new(hook: impl Fn(&Call<'_>) + Send + Sync + 'static) -> Self {
        Observer(Some(Arc::new(hook)))
    }

    fn tell(&self, call: &Call<'_>) {
        if let Some(hook) = &self.0 {
            hook(call);
        }
    }
}

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Observer(set)" } else { "Observer(none)" })
    }
}

/// The endpoint label of a request path: no query, numeric segments as `{id}`.
pub fn endpoint_of(path: &str) -> String {
    let path = path.split('?').next().unwrap_or_default();
    path.split('/')
        .map(
            |segment| if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) { "{id}" } else { segment },
        )
        .collect::<Vec<_>>()
        .join("/")
}

impl Default for PlexConfig {
    fn default() -> Self {
        PlexConfig {
            api_url: "https://plex.tv".into(),
            clients_url: "https://clients.plex.tv".into(),
            community_url: "https://community.plex.tv".into(),
            product: "plexid".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            connect_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(5),
            max_retries: 2,
            max_retry_wait: Duration::from_secs(2),
            owner_cache_ttl: Duration::from_secs(60),
            owner_failure_ttl: Duration::from_secs(10),
            observer: Observer::default(),
        }
    }
}

/// What can go wrong talking to plex.tv. Messages never hold a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlexError {
    /// plex.tv rejected the token (401).
    #[error("plex.tv rejected the token")]
    Unauthorized,
    /// plex.tv kept answering 429.
    #[error("plex.tv is rate limiting")]
    RateLimited { retry_after: Option<Duration> },
    /// The call is gone from plex.tv (410): a configuration state, not an outage.
    #[error("plex.tv no longer offers {0} (410 Gone)")]
    Gone(String),
    /// plex.tv answered 404.
    #[error("plex.tv answered 404 for {0}")]
    NotFound(String),
    /// plex.tv failed, timed out, could not be reached or answered something unreadable.
    #[error("plex.tv is unavailable: {0}")]
    Unavailable(String),
}

/// A Plex account as plex.tv describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct PlexUser {
    pub id: u64,
    pub uuid: String,
    /// Empty for a managed Plex Home user (plex.tv sends `""` or `null`).
    pub username: String,
    pub email: Option<String>,
    pub title: String,
    pub thumb: Option<String>,
    /// The JSON object as received, without `authToken` or any other secret (`info` for
    /// property mappings).
    pub raw: Value,
}

/// A device or server an account can reach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    pub name: String,
    pub client_identifier: String,
    pub provides: String,
    /// The account's own device (plex.tv sends `ownerId: null` then).
    pub owned: bool,
    /// For a device shared with the account: its owner's Plex id.
    pub owner_id: Option<u64>,
}

impl Resource {
    /// D16, the one rule: a resource counts as a server when its comma-separated `provides`
    /// lists `server`.
    pub fn is_server(&self) -> bool {
        self.provides.split(',').any(|p| p.trim().eq_ignore_ascii_case("server"))
    }
}

/// Accepted shares as (server, Plex id): a set, shared by the cache and every sign-in that
/// reads it (an owner may share with tens of thousands; the sweep looks each connection up).
pub type ShareSet = Arc<BTreeSet<(String, u64)>>;

/// Who an owner shares their servers with: accepted shares only, as (server, Plex id).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Shares {
    pub accepted: ShareSet,
    /// The servers the list speaks for: `None` for every server the owner owns (the
    /// clients.plex.tv list); the servers asked one by one otherwise (the XML fallback).
    pub covers: Option<Vec<String>>,
}

/// The source owner's facts, each obtained (or failed) on its own. `None`: not asked.
#[derive(Clone, Debug)]
pub struct OwnerFacts {
    pub identity: Result<PlexUser, PlexError>,
    /// The owner's servers (their resources that provide `server`).
    pub servers: Result<Vec<Resource>, PlexError>,
    pub shares: Option<Result<Shares, PlexError>>,
    /// The Plex ids of the owner's accepted friends (managed Home users are not friends).
    pub friends: Option<Result<Vec<u64>, PlexError>>,
    /// The Plex ids of the owner's Plex Home members (an account without a Home: none).
    pub home: Result<Vec<u64>, PlexError>,
}

/// What an owner fact lookup should cover.
#[derive(Clone, Copy, Debug, Default)]
pub struct OwnerQuery<'a> {
    /// The servers whose members matter (the source's allowed servers); none: no shares call.
    pub servers: &'a [String],
    pub friends: bool,
    /// Ask plex.tv again instead of using the cache (the answers are cached).
    pub fresh: bool,
}

/// Everything one sign-in needs to know.
#[derive(Debug)]
pub struct LoginFacts {
    pub user: Result<PlexUser, PlexError>,
    pub resources: Result<Vec<Resource>, PlexError>,
    pub owner: Option<OwnerFacts>,
}

#[derive(Clone)]
pub struct PlexClient {
    inner: Arc<Inner>,
}

/// One cached answer and when it stops being used.
type Slot<T> = Option<(Instant, Result<T, PlexError>)>;

#[derive(Default)]
struct OwnerCache {
    identity: Slot<PlexUser>,
    servers: Slot<Vec<Resource>>,
    shares: Slot<ShareSet>,
    /// The XML fallback, per server.
    server_shares: HashMap<String, (Instant, Result<Vec<u64>, PlexError>)>,
    friends: Slot<Vec<u64>>,
    home: Slot<Vec<u64>>,
}

impl OwnerCache {
    fn expired(&self, now: Instant) -> bool {
        fn until<T>(slot: &Slot<T>) -> Option<Instant> {
            slot.as_ref().map(|(until, _)| *until)
        }
        let slots =
            [until(&self.identity), until(&self.servers), until(&self.shares), until(&self.friends), until(&self.home)];
        slots
            .into_iter()
            .flatten()
            .chain(self.server_shares.values().map(|(until, _)| *until))
            .all(|until| until <= now)
    }
}

struct Inner {
    http: reqwest::Client,
    config: PlexConfig,
    owners: Mutex<HashMap<[u8; 32], OwnerCache>>,
    /// One fetch of an owner fact at a time (by owner key and fact): sign-ins that find the
    /// entry expired together wait for the first one's answer instead of each asking plex.tv
    /// (a share list of 30,000 entries is megabytes, and plex.tv rate-limits).
    flights: Flights<([u8; 32], &'static str), tokio::sync::Mutex<()>>,
}

/// Reads an id that plex.tv may send as a number or a numeric string.
fn id_of(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn text_of(value: &Value, key: &str) -> Option<String> {
    text(value.get(key)?)
}

/// A string, or a number plex.tv sent where a string was expected, as text.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn truthy(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_u64() == Some(1),
        Some(Value::String(s)) => s == "1" || s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// Whether a key of plex.tv's JSON holds a secret (`authToken`, `authenticationToken`,
/// `accessToken`, …): such keys are never kept.
fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.contains("token") || key.contains("secret") || key.contains("password") || key == "pin" || key == "jwt"
}

/// The value without any secret member, at any depth.
pub fn without_secrets(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter().filter(|(k, _)| !is_secret_key(k)).map(|(k, v)| (k.clone(), without_secrets(v))).collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_secrets).collect()),
        other => other.clone(),
    }
}

/// Reads a user object; `None` without a usable id. `raw` keeps no secret.
pub fn parse_user(value: &Value) -> Option<PlexUser> {
    let id = id_of(value.get("id"))?;
    Some(PlexUser {
        id,
        uuid: text_of(value, "uuid").unwrap_or_default(),
        username: text_of(value, "username").unwrap_or_default(),
        email: text_of(value, "email").filter(|e| !e.is_empty()),
        title: text_of(value, "title").unwrap_or_default(),
        thumb: text_of(value, "thumb"),
        raw: without_secrets(value),
    })
}

/// Reads the resources array (entries without a client identifier are skipped).
pub fn parse_resources(value: &Value) -> Option<Vec<Resource>> {
    let items = value.as_array()?;
    Some(
        items
            .iter()
            .filter_map(|item| {
                Some(Resource {
                    name: text_of(item, "name").unwrap_or_default(),
                    client_identifier: text_of(item, "clientIdentifier")?,
                    provides: text_of(item, "provides").unwrap_or_default(),
                    owned: truthy(item.get("owned")),
                    owner_id: id_of(item.get("ownerId")),
                })
            })
            .collect(),
    )
}

/// Reads clients.plex.tv's accepted shares: (server, the invited account's Plex id). Entries
/// without both are skipped.
pub fn parse_accepted_shares(body: &[u8]) -> Option<Vec<(String, u64)>> {
    /// Only the fields read: the list is not built as a whole JSON document in memory (one
    /// entry of plex.tv's carries some 30 fields; 30,000 of them took ~150 MB as a `Value`).
    #[derive(serde::Deserialize)]
    struct Invited {
        id: Option<Value>,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Share {
        machine_identifier: Option<Value>,
        invited: Option<Invited>,
        invited_id: Option<Value>,
    }
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Entry {
        Share(Share),
        Other(serde::de::IgnoredAny),
    }
    let items: Vec<Entry> = serde_json::from_slice(body).ok()?;
    Some(
        items
            .into_iter()
            .filter_map(|entry| {
                let Entry::Share(share) = entry else { return None };
                let server = text(&share.machine_identifier?)?;
                let invited = id_of(share.invited.and_then(|i| i.id).as_ref()).or(id_of(share.invited_id.as_ref()))?;
                Some((server, invited))
            })
            .collect(),
    )
}

/// Reads the older XML shares of one server: the Plex ids of the accepted ones (`userID` with a
/// non-zero `acceptedAt`; a pending invitation has `acceptedAt="0"`, and one without the
/// attribute is not taken as accepted).
pub fn parse_server_shares_xml(xml: &[u8]) -> Option<Vec<u64>> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut ids = Vec::new();
    let mut container = false;
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf).ok()? {
            Event::Start(e) | Event::Empty(e) => {
                let name = e.name();
                if name.as_ref() == b"MediaContainer" {
                    container = true;
                } else if name.as_ref() == b"SharedServer" {
                    let mut user = None;
                    let mut accepted = false;
                    for attribute in e.attributes().flatten() {
                        let value = attribute.unescape_value().ok()?;
                        match attribute.key.as_ref() {
                            b"userID" => user = value.trim().parse::<u64>().ok(),
                            b"acceptedAt" => accepted = value.trim().parse::<u64>().is_ok_and(|at| at > 0),
                            _ => {}
                        }
                    }
                    if let (Some(user), true) = (user, accepted) {
                        ids.push(user);
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    container.then_some(ids)
}

/// Reads the community GraphQL `allFriendsV2` answer as Plex ids (`user.idRaw`). GraphQL errors
/// (sent with status 200) are failures.
pub fn parse_graphql_friends(value: &Value) -> Result<Vec<u64>, String> {
    if let Some(errors) = value.get("errors").and_then(Value::as_array).filter(|e| !e.is_empty()) {
        let messages: Vec<&str> = errors.iter().filter_map(|e| e.get("message").and_then(Value::as_str)).collect();
        return Err(format!("GraphQL errors: {}", messages.join("; ")));
    }
    let items =
        value.pointer("/data/allFriendsV2").and_then(Value::as_array).ok_or("no data.allFriendsV2 in the answer")?;
    Ok(items.iter().filter_map(|f| id_of(f.pointer("/user/idRaw"))).collect())
}

/// Reads `/api/v2/friends` as the Plex ids of accepted friends: entries whose `status` is
/// `accepted` (never a pending request) and that are not managed Plex Home users (`home: true`,
/// which are the Home relationship, not friends).
pub fn parse_friend_ids(value: &Value) -> Option<Vec<u64>> {
    Some(
        value
            .as_array()?
            .iter()
            .filter(|f| f.get("status").and_then(Value::as_str) == Some("accepted"))
            .filter(|f| !truthy(f.get("home")))
            .filter_map(|f| id_of(f.get("id")))
            .collect(),
    )
}

/// Reads `/api/v2/home/users`: an object with `users`, or a bare array.
pub fn parse_home_ids(value: &Value) -> Option<Vec<u64>> {
    let users = match value {
        Value::Array(items) => items,
        other => other.get("users")?.as_array()?,
    };
    Some(users.iter().filter_map(|u| id_of(u.get("id"))).collect())
}

/// The wait before retry number `attempt` (1-based): `Retry-After` when plex.tv gave one, else
/// 100 ms doubling, capped at `cap`.
pub fn backoff(attempt: u32, retry_after: Option<Duration>, cap: Duration) -> Duration {
    let exponential = Duration::from_millis(100u64.saturating_mul(1 << attempt.saturating_sub(1).min(10)));
    retry_after.unwrap_or(exponential).min(cap)
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers.get(RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds))
}

/// Why one attempt failed.
enum AttemptError {
    Final(PlexError),
    Retryable { error: PlexError, wait: Option<Duration> },
}

/// Which host a call goes to.
#[derive(Clone, Copy)]
enum Host {
    Api,
    Clients,
    Community,
}

/// One plex.tv request.
struct Request<'a> {
    host: Host,
    path: &'a str,
    /// A JSON body to POST; GET without.
    body: Option<&'a Value>,
    /// The observer's label when the path holds more than numeric ids.
    endpoint: Option<&'static str>,
}

const FRIENDS_QUERY: &str = "query GetAllFriends { allFriendsV2 { user { id idRaw username } createdAt } }";

impl PlexClient {
    pub fn new(config: PlexConfig) -> Result<PlexClient, PlexError> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let header = |text: &str| HeaderValue::from_str(text).map_err(|e| PlexError::Unavailable(e.to_string()));
        headers.insert("X-Plex-Product", header(&config.product)?);
        headers.insert("X-Plex-Version", header(&config.version)?);
        headers.insert("X-Plex-Device-Vendor", HeaderValue::from_static("plexid"));
        headers.insert(USER_AGENT, header(&format!("plexid/{}", config.version))?);
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| PlexError::Unavailable(format!("cannot build the HTTP client: {e}")))?;
        Ok(PlexClient {
            inner: Arc::new(Inner { http, config, owners: Mutex::new(HashMap::new()), flights: Flights::default() }),
        })
    }

    fn url(&self, host: Host, path: &str) -> String {
        let config = &self.inner.config;
        let base = match host {
            Host::Api => &config.api_url,
            Host::Clients => &config.clients_url,
            Host::Community => &config.community_url,
        };
        format!("{}{path}", base.trim_end_matches('/'))
    }

    /// One request, told to the observer: the single place plexid sends anything to plex.tv.
    async fn attempt(&self, call: &Request<'_>, client_id: &str, token: &str) -> Result<Vec<u8>, AttemptError> {
        let started = Instant::now();
        let result = self.attempt_once(call, client_id, token).await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(AttemptError::Final(PlexError::Unauthorized)) => "unauthorized",
            Err(AttemptError::Retryable { error: PlexError::RateLimited { .. }, .. }) => "rate_limited",
            Err(AttemptError::Retryable { .. }) => "unavailable",
            Err(AttemptError::Final(_)) => "failed",
        };
        let endpoint = call.endpoint.map_or_else(|| endpoint_of(call.path), str::to_owned);
        self.inner.config.observer.tell(&Call { endpoint: &endpoint, outcome, elapsed: started.elapsed() });
        result
    }

    async fn attempt_once(&self, call: &Request<'_>, client_id: &str, token: &str) -> Result<Vec<u8>, AttemptError> {
        let path = call.path.split('?').next().unwrap_or_default();
        let mut token_header =
            HeaderValue::from_str(token).map_err(|_| AttemptError::Final(PlexError::Unauthorized))?;
        token_header.set_sensitive(true);
        let client_header = HeaderValue::from_str(client_id).map_err(|_| {
            AttemptError::Final(PlexError::Unavailable("the client identifier is not a header value".into()))
        })?;
        let url = self.url(call.host, call.path);
        let request = match call.body {
            Some(body) => self.inner.http.post(url).header(CONTENT_TYPE, "application/json").body(body.to_string()),
            None => self.inner.http.get(url),
        };
        let response = request
            .header("X-Plex-Client-Identifier", client_header)
            .header("X-Plex-Token", token_header)
            .send()
            .await
            .map_err(|e| AttemptError::Retryable {
                error: PlexError::Unavailable(format!("{path}: {}", e.without_url())),
                wait: None,
            })?;
        let status = response.status();
        let failed = |text: String| PlexError::Unavailable(format!("{path}: {text}"));
        match status {
            StatusCode::UNAUTHORIZED => return Err(AttemptError::Final(PlexError::Unauthorized)),
            StatusCode::GONE => return Err(AttemptError::Final(PlexError::Gone(path.to_owned()))),
            StatusCode::NOT_FOUND => return Err(AttemptError::Final(PlexError::NotFound(path.to_owned()))),
            StatusCode::TOO_MANY_REQUESTS => {
                let wait = retry_after(response.headers());
                return Err(AttemptError::Retryable { error: PlexError::RateLimited { retry_after: wait }, wait });
            }
            s if s.is_server_error() => {
                return Err(AttemptError::Retryable {
                    error: failed(format!("plex.tv answered {status}")),
                    wait: retry_after(response.headers()),
                })
            }
            s if !s.is_success() => return Err(AttemptError::Final(failed(format!("plex.tv answered {status}")))),
            _ => {}
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| AttemptError::Retryable { error: failed(e.without_url().to_string()), wait: None })?;
        Ok(body.to_vec())
    }

    /// Makes `call` with retries; the answer's body.
    async fn send(&self, call: Request<'_>, client_id: &str, token: &str) -> Result<Vec<u8>, PlexError> {
        let config = &self.inner.config;
        let mut attempt = 0;
        loop {
            match self.attempt(&call, client_id, token).await {
                Ok(body) => return Ok(body),
                Err(AttemptError::Final(error)) => return Err(error),
                Err(AttemptError::Retryable { error, wait }) => {
                    attempt += 1;
                    let too_long = wait.is_some_and(|w| w > config.max_retry_wait);
                    if attempt > config.max_retries || too_long {
                        // An outage or a slow plex.tv: the operator should see it (the owner's
                        // calls failing leave the sweep unable to decide anything).
                        tracing::warn!(path = call.path, %error, attempt, "plex.tv call failed");
                        return Err(error);
                    }
                    tokio::time::sleep(backoff(attempt, wait, config.max_retry_wait)).await;
                }
            }
        }
    }

    /// Makes `call` and reads its JSON answer with `parse` (`None`: an unexpected shape).
    async fn json<T>(
        &self,
        call: Request<'_>,
        client_id: &str,
        token: &str,
        parse: impl FnOnce(&Value) -> Option<T>,
    ) -> Result<T, PlexError> {
        let path = call.path.split('?').next().unwrap_or_default().to_owned();
        let body = self.send(call, client_id, token).await?;
        let value: Value = serde_json::from_slice(&body)
            .map_err(|e| PlexError::Unavailable(format!("{path}: unreadable answer: {e}")))?;
        parse(&value).ok_or_else(|| PlexError::Unavailable(format!("{path}: plex.tv answered an unexpected shape")))
    }

    /// `GET plex.tv/api/v2/user`: the token's account.
    pub async fn user(&self, client_id: &str, token: &str) -> Result<PlexUser, PlexError> {
        self.json(
            Request { host: Host::Api, path: "/api/v2/user", body: None, endpoint: None },
            client_id,
            token,
            parse_user,
        )
        .await
    }

    /// `GET plex.tv/api/v2/resources`: the account's devices and servers, owned and shared.
    pub async fn resources(&self, client_id: &str, token: &str) -> Result<Vec<Resource>, PlexError> {
        let call = Request { host: Host::Api, path: "/api/v2/resources?includeHttps=1", body: None, endpoint: None };
        self.json(call, client_id, token, parse_resources).await
    }

    /// `GET clients.plex.tv/api/v2/shared_servers/owned/accepted`: who the account shares its
    /// servers with (accepted only).
    pub async fn accepted_shares(&self, client_id: &str, token: &str) -> Result<Vec<(String, u64)>, PlexError> {
        let call =
            Request { host: Host::Clients, path: "/api/v2/shared_servers/owned/accepted", body: None, endpoint: None };
        let body = self.send(call, client_id, token).await?;
        parse_accepted_shares(&body).ok_or_else(|| {
            PlexError::Unavailable("/api/v2/shared_servers/owned/accepted: plex.tv answered an unexpected shape".into())
        })
    }

    /// `GET plex.tv/api/servers/{server}/shared_servers` (XML): the accepted shares of one server.
    pub async fn server_shares(&self, client_id: &str, token: &str, server: &str) -> Result<Vec<u64>, PlexError> {
        let encoded: String = server
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let path = format!("/api/servers/{encoded}/shared_servers");
        let body = self
            .send(
                Request {
                    host: Host::Api,
                    path: &path,
                    body: None,
                    endpoint: Some("/api/servers/{machineIdentifier}/shared_servers"),
                },
                client_id,
                token,
            )
            .await?;
        parse_server_shares_xml(&body)
            .ok_or_else(|| PlexError::Unavailable("/api/servers/…/shared_servers: unreadable XML".into()))
    }

    /// The account's accepted friends: community GraphQL `allFriendsV2`, falling back to
    /// `/api/v2/friends?status=accepted`. When both fail, the GraphQL failure is reported, unless
    /// the fallback is gone (410) and GraphQL failed in a way that is not a passing outage.
    pub async fn friends(&self, client_id: &str, token: &str) -> Result<Vec<u64>, PlexError> {
        let query = json!({"query": FRIENDS_QUERY, "operationName": "GetAllFriends"});
        let call = Request { host: Host::Community, path: "/api", body: Some(&query), endpoint: None };
        let graphql = match self.send(call, client_id, token).await {
            Ok(body) => serde_json::from_slice::<Value>(&body)
                .map_err(|e| format!("unreadable answer: {e}"))
                .and_then(|v| parse_graphql_friends(&v))
                .map_err(|e| PlexError::Unavailable(format!("community /api: {e}"))),
            Err(error) => Err(error),
        };
        let graphql_error = match graphql {
            Ok(ids) => return Ok(ids),
            Err(PlexError::Unauthorized) => return Err(PlexError::Unauthorized),
            Err(error) => error,
        };
        let call = Request { host: Host::Api, path: "/api/v2/friends?status=accepted", body: None, endpoint: None };
        match self.json(call, client_id, token, parse_friend_ids).await {
            Ok(ids) => Ok(ids),
            Err(PlexError::Gone(what)) => Err(match graphql_error {
                PlexError::RateLimited { .. } => graphql_error,
                other => PlexError::Gone(format!("{what} (and the community GraphQL call failed: {other})")),
            }),
            Err(_) => Err(graphql_error),
        }
    }

    /// The Plex ids of the account's Plex Home members; an account without a Home (404) has none.
    pub async fn home_users(&self, client_id: &str, token: &str) -> Result<Vec<u64>, PlexError> {
        let call = Request { host: Host::Api, path: "/api/v2/home/users", body: None, endpoint: None };
        match self.json(call, client_id, token, parse_home_ids).await {
            Err(PlexError::NotFound(_)) => Ok(Vec::new()),
            other => other,
        }
    }

    fn cache_key(client_id: &str, token: &str) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(client_id.as_bytes());
        hasher.update([0]);
        hasher.update(token.as_bytes());
        hasher.finalize().into()
    }

    /// How long an answer is reused: the cache lifetime for an answer, a shorter one for a
    /// failure (at least what `Retry-After` asked).
    fn lifetime<T>(&self, result: &Result<T, PlexError>) -> Duration {
        let config = &self.inner.config;
        match result {
            Ok(_) => config.owner_cache_ttl,
            Err(PlexError::RateLimited { retry_after: Some(wait) }) => {
                (*wait).max(config.owner_failure_ttl).min(config.owner_cache_ttl)
            }
            Err(_) => config.owner_failure_ttl.min(config.owner_cache_ttl),
        }
    }

    /// The live cached value of one owner fact.
    fn live<T: Clone>(
        &self,
        key: [u8; 32],
        slot: &impl Fn(&mut OwnerCache) -> &mut Slot<T>,
    ) -> Option<Result<T, PlexError>> {
        let mut owners = self.inner.owners.lock().unwrap_or_else(|p| p.into_inner());
        let (until, value) = owners.get_mut(&key).and_then(|c| slot(c).as_ref())?;
        (*until > Instant::now()).then(|| value.clone())
    }

    /// One owner fact (`fact` names it): from the cache when its entry is live (unless `fresh`),
    /// else from `fetch` (then cached). Callers that miss the cache together share one fetch:
    /// the others wait for it and take its answer (or failure) from the cache.
    async fn cached<T: Clone>(
        &self,
        key: [u8; 32],
        fact: &'static str,
        slot: impl Fn(&mut OwnerCache) -> &mut Slot<T>,
        fresh: bool,
        fetch: impl Future<Output = Result<T, PlexError>>,
    ) -> Result<T, PlexError> {
        if !fresh {
            if let Some(value) = self.live(key, &slot) {
                return value;
            }
        }
        let flight = self.inner.flights.join(&(key, fact));
        let _turn = flight.lock().await;
        if let Some(value) = self.live(key, &slot).filter(|_| !fresh) {
            return value;
        }
        let result = fetch.await;
        let until = Instant::now() + self.lifetime(&result);
        let mut owners = self.inner.owners.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        owners.retain(|k, cache| *k == key || !cache.expired(now));
        *slot(owners.entry(key).or_default()) = Some((until, result.clone()));
        result
    }

    /// The older XML shares of each server in `servers`, each cached on its own.
    async fn xml_shares(&self, key: [u8; 32], client_id: &str, token: &str, servers: &[String], fresh: bool) -> Shares {
        let fetches = servers.iter().map(|server| async move {
            if !fresh {
                let owners = self.inner.owners.lock().unwrap_or_else(|p| p.into_inner());
                if let Some((until, value)) = owners.get(&key).and_then(|c| c.server_shares.get(server)) {
                    if *until > Instant::now() {
                        return (server.clone(), value.clone());
                    }
                }
            }
            let result = self.server_shares(client_id, token, server).await;
            let until = Instant::now() + self.lifetime(&result);
            let mut owners = self.inner.owners.lock().unwrap_or_else(|p| p.into_inner());
            owners.entry(key).or_default().server_shares.insert(server.clone(), (until, result.clone()));
            (server.clone(), result)
        });
        let (mut accepted, mut covers) = (BTreeSet::new(), Vec::new());
        for (server, result) in futures_util::future::join_all(fetches).await {
            if let Ok(ids) = result {
                accepted.extend(ids.into_iter().map(|id| (server.clone(), id)));
                covers.push(server);
            }
        }
        Shares { accepted: Arc::new(accepted), covers: Some(covers) }
    }

    /// The owner's shares: the clients.plex.tv list, or, while it fails, the older XML list of
    /// each server asked (a failure only when neither answered for any of them).
    async fn shares(
        &self,
        key: [u8; 32],
        client_id: &str,
        token: &str,
        servers: &[String],
        fresh: bool,
    ) -> Result<Shares, PlexError> {
        let list = self
            .cached(key, "shares", |c| &mut c.shares, fresh, async {
                self.accepted_shares(client_id, token).await.map(|list| Arc::new(list.into_iter().collect()))
            })
            .await;
        match list {
            Ok(accepted) => Ok(Shares { accepted, covers: None }),
            Err(PlexError::Unauthorized) => Err(PlexError::Unauthorized),
            Err(error) => {
                let fallback = self.xml_shares(key, client_id, token, servers, fresh).await;
                if fallback.covers.as_ref().is_some_and(|c| !c.is_empty()) {
                    Ok(fallback)
                } else {
                    Err(error)
                }
            }
        }
    }

    /// The owner's facts, each from the cache while live (unless `query.fresh`), the others
    /// asked of plex.tv concurrently. A failing fact never stops the others.
    pub async fn owner(&self, client_id: &str, token: &str, query: OwnerQuery<'_>) -> OwnerFacts {
        let key = Self::cache_key(client_id, token);
        let fresh = query.fresh;
        let identity = self.cached(key, "identity", |c| &mut c.identity, fresh, self.user(client_id, token));
        let servers = self.cached(key, "servers", |c| &mut c.servers, fresh, async {
            self.resources(client_id, token).await.map(|all| all.into_iter().filter(Resource::is_server).collect())
        });
        let shares = async {
            match query.servers.is_empty() {
                true => None,
                false => Some(self.shares(key, client_id, token, query.servers, fresh).await),
            }
        };
        let friends = async {
            match query.friends {
                true => {
                    Some(self.cached(key, "friends", |c| &mut c.friends, fresh, self.friends(client_id, token)).await)
                }
                false => None,
            }
        };
        let home = self.cached(key, "home", |c| &mut c.home, fresh, self.home_users(client_id, token));
        let (identity, servers, shares, friends, home) = tokio::join!(identity, servers, shares, friends, home);
        OwnerFacts { identity, servers, shares, friends, home }
    }

    /// Drops the cached owner facts of this token (after the source's token changed).
    pub fn forget_owner(&self, client_id: &str, owner_token: &str) {
        let key = Self::cache_key(client_id, owner_token);
        self.inner.owners.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
    }

    /// Drops every cached owner fact.
    pub fn forget_all(&self) {
        self.inner.owners.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Everything one sign-in needs, in one round of concurrent calls.
    pub async fn login_facts(
        &self,
        client_id: &str,
        user_token: &str,
        owner: Option<(&str, OwnerQuery<'_>)>,
    ) -> LoginFacts {
        let owner = async {
            match owner {
                Some((token, query)) => Some(self.owner(client_id, token, query).await),
                None => None,
            }
        };
        let (user, resources, owner) =
            tokio::join!(self.user(client_id, user_token), self.resources(client_id, user_token), owner);
        LoginFacts { user, resources, owner }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(provides: &str) -> Resource {
        Resource {
            name: "n".into(),
            client_identifier: "c".into(),
            provides: provides.into(),
            owned: false,
            owner_id: None,
        }
    }

    #[test]
    fn servers_are_resources_that_provide_server() {
        assert!(resource("server").is_server());
        assert!(resource("client,server,player").is_server());
        assert!(resource(" Server ").is_server());
        assert!(!resource("client,player").is_server());
        assert!(!resource("").is_server());
        assert!(!resource("servers").is_server());
    }

    #[test]
    fn users_parse_leniently_and_keep_no_secret() {
        let user = parse_user(&json!({"id": "1234", "username": "u", "title": "T", "email": "", "authToken": "s3cret",
            "subscription": {"active": true, "accessToken": "x"}, "pin": "1234"}))
        .unwrap();
        assert_eq!((user.id, user.username.as_str(), user.email), (1234, "u", None));
        assert_eq!(
            user.raw,
            json!({"id": "1234", "username": "u", "title": "T", "email": "", "subscription": {"active": true}})
        );
        assert!(parse_user(&json!({"username": "no id"})).is_none());
        let managed = parse_user(&json!({"id": 5, "username": null, "email": null})).unwrap();
        assert_eq!((managed.username.as_str(), managed.email), ("", None));
        let resources = parse_resources(&json!([
            {"clientIdentifier": "a", "provides": "server", "owned": true, "ownerId": null},
            {"clientIdentifier": "b", "provides": "server", "owned": false, "ownerId": "17"},
            {"name": "x"}
        ]))
        .unwrap();
        assert_eq!(resources.len(), 2);
        assert_eq!((resources[0].owned, resources[0].owner_id), (true, None));
        assert_eq!((resources[1].owned, resources[1].owner_id), (false, Some(17)));
    }

    #[test]
    fn friends_are_accepted_and_not_managed_home_users() {
        let entries = json!([
            {"id": 1, "status": "accepted", "home": false},
            {"id": "2", "status": "accepted"},
            {"id": 3, "status": "pending_received"},
            {"id": 4, "status": "pending_sent"},
            {"id": 5, "status": "pending"},
            {"id": 6, "status": "accepted", "home": true, "restricted": true, "username": null},
            {"id": 7},
        ]);
        assert_eq!(parse_friend_ids(&entries), Some(vec![1, 2]));
        let graphql = json!({"data": {"allFriendsV2": [{"user": {"id": "uuid", "idRaw": 11, "username": null}}, {"user": {"id": "x"}}]}});
        assert_eq!(parse_graphql_friends(&graphql), Ok(vec![11]));
        assert!(parse_graphql_friends(&json!({"errors": [{"message": "nope"}]})).unwrap_err().contains("nope"));
        assert!(parse_graphql_friends(&json!({"data": null})).is_err());
    }

    #[test]
    fn shares_and_home_shapes() {
        let shares = json!([
            {"invitedId": 5, "invited": {"id": 5}, "machineIdentifier": "m1"},
            {"invitedId": 6, "machineIdentifier": "m2"},
            {"invited": {"id": 7}},
            "junk"
        ]);
        let shares = serde_json::to_vec(&shares).unwrap();
        assert_eq!(parse_accepted_shares(&shares), Some(vec![("m1".into(), 5), ("m2".into(), 6)]));
        assert_eq!(parse_accepted_shares(b"{\"not\": \"a list\"}"), None);
        let xml = br#"<?xml version="1.0"?><MediaContainer size="3"><SharedServer id="1" userID="11" username="" acceptedAt="1700000000"><Section key="1"/></SharedServer><SharedServer userID="12" acceptedAt="0"/><SharedServer userID="13"/></MediaContainer>"#;
        assert_eq!(parse_server_shares_xml(xml), Some(vec![11]));
        assert_eq!(parse_server_shares_xml(b"{\"not\": \"xml\"}"), None);
        assert_eq!(parse_home_ids(&json!({"id": 1, "users": [{"id": 1}, {"id": "2"}]})), Some(vec![1, 2]));
        assert_eq!(parse_home_ids(&json!([{"id": 3}])), Some(vec![3]));
        assert_eq!(parse_home_ids(&json!({"id": 1})), None);
    }

    #[test]
    fn endpoints_have_no_query_and_no_ids() {
        assert_eq!(endpoint_of("/api/v2/resources?includeHttps=1"), "/api/v2/resources");
        assert_eq!(endpoint_of("/api/v2/pins/12345"), "/api/v2/pins/{id}");
        assert_eq!(endpoint_of("/api/v2/user"), "/api/v2/user");
    }

    #[tokio::test]
    async fn the_observer_hears_every_request() {
        let plex = fake_plex::FakePlex::start().await.unwrap();
        let heard = Arc::new(Mutex::new(Vec::new()));
        let log = heard.clone();
        let observer = Observer::new(move |call| log.lock().unwrap().push((call.endpoint.to_owned(), call.outcome)));
        let client = PlexClient::new(PlexConfig { api_url: plex.url(), observer, ..Default::default() }).unwrap();
        assert!(client.resources("c", "not-a-token").await.is_err());
        assert_eq!(*heard.lock().unwrap(), [("/api/v2/resources".to_owned(), "unauthorized")]);
        assert!(client.server_shares("c", "not-a-token", "abc-def").await.is_err());
        assert_eq!(heard.lock().unwrap()[1].0, "/api/servers/{machineIdentifier}/shared_servers");
    }

    #[test]
    fn backoff_is_bounded() {
        let cap = Duration::from_secs(2);
        assert_eq!(backoff(1, None, cap), Duration::from_millis(100));
        assert_eq!(backoff(2, None, cap), Duration::from_millis(200));
        assert_eq!(backoff(30, None, cap), cap);
        assert_eq!(backoff(1, Some(Duration::from_secs(1)), cap), Duration::from_secs(1));
        assert_eq!(backoff(1, Some(Duration::from_secs(60)), cap), cap);
    }
}
