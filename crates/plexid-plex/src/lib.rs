//! plexid's plex.tv client.
//!
//! * One pooled `reqwest` client (rustls) with connect and per-attempt timeouts.
//! * Every call carries the `X-Plex-*` headers and asks for JSON; the token travels only in the
//!   `X-Plex-Token` header (marked sensitive), never in a URL (D2).
//! * 429 and 5xx answers, timeouts and connection failures are retried with a bounded backoff
//!   that honours `Retry-After`; a 401 is not retried and is told apart from an outage.
//! * The calls of one sign-in run concurrently (D15), and the source owner's identity and
//!   friends are cached briefly, so a returning member costs about one plex.tv round trip.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, RETRY_AFTER, USER_AGENT};
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// How the client reaches plex.tv.
#[derive(Clone, Debug)]
pub struct PlexConfig {
    /// `https://plex.tv`, or a stand-in's address.
    pub api_url: String,
    pub product: String,
    pub version: String,
    pub connect_timeout: Duration,
    /// The time limit of one attempt.
    pub request_timeout: Duration,
    /// Retries after the first attempt of a call that failed in a retryable way.
    pub max_retries: u32,
    /// A `Retry-After` longer than this is not waited for: the call fails as rate limited.
    pub max_retry_wait: Duration,
    pub owner_cache_ttl: Duration,
    /// Told about every request sent to plex.tv (the server counts them for `/metrics`).
    pub observer: Observer,
}

/// One request to plex.tv as an [`Observer`] sees it: never the token, never the query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Call<'a> {
    /// The path without its query, numeric segments as `{id}` (a bounded set of values).
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
            product: "plexid".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            connect_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(5),
            max_retries: 2,
            max_retry_wait: Duration::from_secs(2),
            owner_cache_ttl: Duration::from_secs(60),
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
    /// plex.tv failed, timed out, could not be reached or answered something unreadable.
    #[error("plex.tv is unavailable: {0}")]
    Unavailable(String),
}

/// A Plex account as plex.tv describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct PlexUser {
    pub id: u64,
    pub uuid: String,
    pub username: String,
    pub email: Option<String>,
    pub title: String,
    pub thumb: Option<String>,
    /// The whole JSON object as received (`info` for property mappings).
    pub raw: Value,
}

/// A device or server an account can reach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resource {
    pub name: String,
    pub client_identifier: String,
    pub provides: String,
    pub owned: bool,
}

impl Resource {
    /// D16, the one rule: a resource counts as a server when its comma-separated `provides`
    /// lists `server`.
    pub fn is_server(&self) -> bool {
        self.provides.split(',').any(|p| p.trim().eq_ignore_ascii_case("server"))
    }
}

/// The source owner's identity and friends. A failed friends call is kept apart (D19).
#[derive(Clone, Debug)]
pub struct OwnerFacts {
    pub user: PlexUser,
    pub friends: Result<Vec<u64>, PlexError>,
    /// The Plex ids of the owner's Plex Home members (a failure only means "not known").
    pub home: Result<Vec<u64>, PlexError>,
}

/// Everything one sign-in needs to know.
#[derive(Debug)]
pub struct LoginFacts {
    pub user: Result<PlexUser, PlexError>,
    pub resources: Result<Vec<Resource>, PlexError>,
    pub owner: Option<Result<OwnerFacts, PlexError>>,
}

#[derive(Clone)]
pub struct PlexClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    config: PlexConfig,
    owners: Mutex<HashMap<[u8; 32], (Instant, OwnerFacts)>>,
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
    match value.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Reads a user object; `None` without a usable id.
pub fn parse_user(value: &Value) -> Option<PlexUser> {
    let id = id_of(value.get("id"))?;
    Some(PlexUser {
        id,
        uuid: text_of(value, "uuid").unwrap_or_default(),
        username: text_of(value, "username").unwrap_or_default(),
        email: text_of(value, "email").filter(|e| !e.is_empty()),
        title: text_of(value, "title").unwrap_or_default(),
        thumb: text_of(value, "thumb"),
        raw: value.clone(),
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
                    owned: matches!(item.get("owned"), Some(Value::Bool(true)))
                        || item.get("owned") == Some(&Value::from(1)),
                })
            })
            .collect(),
    )
}

/// Reads the friends array as Plex ids.
pub fn parse_friend_ids(value: &Value) -> Option<Vec<u64>> {
    Some(value.as_array()?.iter().filter_map(|f| id_of(f.get("id"))).collect())
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
        Ok(PlexClient { inner: Arc::new(Inner { http, config, owners: Mutex::new(HashMap::new()) }) })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.inner.config.api_url.trim_end_matches('/'))
    }

    /// One request, told to the observer: the single place plexid sends anything to plex.tv.
    async fn attempt(&self, path: &str, client_id: &str, token: &str) -> Result<Value, AttemptError> {
        let started = Instant::now();
        let result = self.send(path, client_id, token).await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(AttemptError::Final(PlexError::Unauthorized)) => "unauthorized",
            Err(AttemptError::Retryable { error: PlexError::RateLimited { .. }, .. }) => "rate_limited",
            Err(AttemptError::Retryable { .. }) => "unavailable",
            Err(AttemptError::Final(_)) => "failed",
        };
        let endpoint = endpoint_of(path);
        self.inner.config.observer.tell(&Call { endpoint: &endpoint, outcome, elapsed: started.elapsed() });
        result
    }

    async fn send(&self, path: &str, client_id: &str, token: &str) -> Result<Value, AttemptError> {
        let mut token_header =
            HeaderValue::from_str(token).map_err(|_| AttemptError::Final(PlexError::Unauthorized))?;
        token_header.set_sensitive(true);
        let client_header = HeaderValue::from_str(client_id).map_err(|_| {
            AttemptError::Final(PlexError::Unavailable("the client identifier is not a header value".into()))
        })?;
        let response = self
            .inner
            .http
            .get(self.url(path))
            .header("X-Plex-Client-Identifier", client_header)
            .header("X-Plex-Token", token_header)
            .send()
            .await
            .map_err(|e| AttemptError::Retryable {
                error: PlexError::Unavailable(format!("{path}: {}", e.without_url())),
                wait: None,
            })?;
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED {
            return Err(AttemptError::Final(PlexError::Unauthorized));
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            let wait = retry_after(response.headers());
            return Err(AttemptError::Retryable { error: PlexError::RateLimited { retry_after: wait }, wait });
        }
        if status.is_server_error() {
            return Err(AttemptError::Retryable {
                error: PlexError::Unavailable(format!("{path}: plex.tv answered {status}")),
                wait: retry_after(response.headers()),
            });
        }
        if !status.is_success() {
            return Err(AttemptError::Final(PlexError::Unavailable(format!("{path}: plex.tv answered {status}"))));
        }
        let body = response.bytes().await.map_err(|e| AttemptError::Retryable {
            error: PlexError::Unavailable(format!("{path}: {}", e.without_url())),
            wait: None,
        })?;
        serde_json::from_slice(&body)
            .map_err(|e| AttemptError::Final(PlexError::Unavailable(format!("{path}: unreadable answer: {e}"))))
    }

    /// GETs `path` with retries.
    async fn get(&self, path: &str, client_id: &str, token: &str) -> Result<Value, PlexError> {
        let config = &self.inner.config;
        let mut attempt = 0;
        loop {
            match self.attempt(path, client_id, token).await {
                Ok(value) => return Ok(value),
                Err(AttemptError::Final(error)) => return Err(error),
                Err(AttemptError::Retryable { error, wait }) => {
                    attempt += 1;
                    let too_long = wait.is_some_and(|w| w > config.max_retry_wait);
                    if attempt > config.max_retries || too_long {
                        // An outage or a slow plex.tv: the operator should see it (the owner's
                        // calls failing leave the sweep unable to decide anything).
                        tracing::warn!(path, %error, attempt, "plex.tv call failed");
                        return Err(error);
                    }
                    tokio::time::sleep(backoff(attempt, wait, config.max_retry_wait)).await;
                }
            }
        }
    }

    fn unreadable(what: &str) -> PlexError {
        PlexError::Unavailable(format!("{what}: plex.tv answered an unexpected shape"))
    }

    pub async fn user(&self, client_id: &str, token: &str) -> Result<PlexUser, PlexError> {
        let value = self.get("/api/v2/user", client_id, token).await?;
        parse_user(&value).ok_or_else(|| Self::unreadable("/api/v2/user"))
    }

    pub async fn resources(&self, client_id: &str, token: &str) -> Result<Vec<Resource>, PlexError> {
        let value = self.get("/api/v2/resources?includeHttps=1", client_id, token).await?;
        parse_resources(&value).ok_or_else(|| Self::unreadable("/api/v2/resources"))
    }

    /// The account's friends.
    pub async fn friends(&self, client_id: &str, token: &str) -> Result<Vec<PlexUser>, PlexError> {
        let value = self.get("/api/v2/friends", client_id, token).await?;
        let items = value.as_array().ok_or_else(|| Self::unreadable("/api/v2/friends"))?;
        Ok(items.iter().filter_map(parse_user).collect())
    }

    /// The members of the account's Plex Home.
    pub async fn home_users(&self, client_id: &str, token: &str) -> Result<Vec<PlexUser>, PlexError> {
        let value = self.get("/api/v2/home/users", client_id, token).await?;
        let items =
            value.get("users").and_then(Value::as_array).ok_or_else(|| Self::unreadable("/api/v2/home/users"))?;
        Ok(items.iter().filter_map(parse_user).collect())
    }

    fn cache_key(client_id: &str, token: &str) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(client_id.as_bytes());
        hasher.update([0]);
        hasher.update(token.as_bytes());
        hasher.finalize().into()
    }

    /// The owner's identity and friends, from the cache when younger than the cache lifetime
    /// (unless `fresh`). Only complete answers are cached.
    pub async fn owner(&self, client_id: &str, owner_token: &str, fresh: bool) -> Result<OwnerFacts, PlexError> {
        let key = Self::cache_key(client_id, owner_token);
        if !fresh {
            let cache = self.inner.owners.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((at, facts)) = cache.get(&key) {
                if at.elapsed() < self.inner.config.owner_cache_ttl {
                    return Ok(facts.clone());
                }
            }
        }
        let (user, friends, home) = tokio::join!(
            self.user(client_id, owner_token),
            self.get("/api/v2/friends", client_id, owner_token),
            self.home_users(client_id, owner_token)
        );
        let friends = friends.and_then(|v| parse_friend_ids(&v).ok_or_else(|| Self::unreadable("/api/v2/friends")));
        let home = home.map(|users| users.into_iter().map(|u| u.id).collect());
        let facts = OwnerFacts { user: user?, friends, home };
        if facts.friends.is_ok() && facts.home.is_ok() {
            let mut cache = self.inner.owners.lock().unwrap_or_else(|p| p.into_inner());
            let ttl = self.inner.config.owner_cache_ttl;
            cache.retain(|_, (at, _)| at.elapsed() < ttl);
            cache.insert(key, (Instant::now(), facts.clone()));
        }
        Ok(facts)
    }

    /// Drops the cached owner facts of this token (after the source's token changed).
    pub fn forget_owner(&self, client_id: &str, owner_token: &str) {
        let key = Self::cache_key(client_id, owner_token);
        self.inner.owners.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
    }

    /// Everything one sign-in needs, in one round of concurrent calls.
    pub async fn login_facts(&self, client_id: &str, user_token: &str, owner_token: Option<&str>) -> LoginFacts {
        let owner = async {
            match owner_token {
                Some(token) => Some(self.owner(client_id, token, false).await),
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
    use serde_json::json;

    fn resource(provides: &str) -> Resource {
        Resource { name: "n".into(), client_identifier: "c".into(), provides: provides.into(), owned: false }
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
    fn users_parse_leniently() {
        let user = parse_user(&json!({"id": "1234", "username": "u", "title": "T", "email": ""})).unwrap();
        assert_eq!((user.id, user.username.as_str(), user.email), (1234, "u", None));
        assert!(parse_user(&json!({"username": "no id"})).is_none());
        assert_eq!(parse_friend_ids(&json!([{"id": 1}, {"id": "2"}, {"name": "x"}])), Some(vec![1, 2]));
        let resources =
            parse_resources(&json!([{"clientIdentifier": "a", "provides": "server", "owned": true}, {"name": "x"}]));
        assert_eq!(resources.unwrap().len(), 1);
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
