//! Sign in with Plex: what happens when a browser hands plexid a Plex token.
//!
//! 1. The source (404), the token (400), the rate limits (429), the source enabled (D4).
//! 2. plex.tv, one round trip of concurrent calls (D15): the person's identity and servers, and
//!    the owner's identity, servers, accepted shares, friends and Plex Home (each cached on its
//!    own). The access rule decides (D5, D16, D19, D22, D23); a fact it needed and could not get
//!    is a 502/503 (D9), recorded as a failed sign-in, never a refusal.
//! 3. Property mappings build the user's and groups' properties (spec §4.1) off the runtime's
//!    threads; a failing mapping refuses the sign-in and writes nothing (D13).
//! 4. One transaction decides and writes: the matching decision (spec §4.2 with D6, D18), the
//!    user, the connection (token encrypted), the groups and their connections (D11), the
//!    session and the audit events. Concurrent first sign-ins of one Plex account meet at the
//!    unique constraints; the loser decides again and finds the winner's connection.
//!
//! A refusal is a [`ServiceError::Denied`] with its reason, recorded in the audit log.

use plexid_core::login::{
    decide_access, decide_group, decide_user, Access, DenyHint, DenyReason, Fact, GroupAction, PersonSide,
    Relationship, UserAction, UserLookup,
};
use plexid_core::model::{Group, GroupConnection, Source, User, UserConnection};
use plexid_core::modes::{EventAction, UserMatchingMode};
use plexid_core::{rules, FieldErrors, GroupConnectionId, GroupId, Timestamp, UserConnectionId, UserId};
use plexid_plex::{OwnerQuery, PlexError, PlexUser};
use plexid_store::connections::ConnectionAccess;
use plexid_store::{Conn, Constraint, ReadWrite, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::events::{self, NewEvent};
use super::plex_facts::{self, Owner};
use super::sessions::{self, Started};
use super::{Actor, AppState, Client, ServiceError, ServiceResult};

const APP: &str = "plexid.sources.plex";
/// Where a signed-in user goes when the sign-in did not say.
pub const DEFAULT_NEXT: &str = "/if/user/";
/// How long a sign-in waits for its username.
const PENDING_LIFETIME: jiff::SignedDuration = jiff::SignedDuration::from_mins(15);

/// A Plex token handed to plexid by the login page or the account page.
#[derive(Clone, Debug, Default)]
pub struct Redeem {
    pub slug: String,
    pub plex_token: Option<String>,
    /// What was wrong with the request body (reported after the source is found, as authentik).
    pub body_errors: FieldErrors,
    /// Where to go afterwards (only same-origin paths are kept).
    pub next: Option<String>,
    pub client: Client,
    /// The browser's device cookie, if it has one (a browser someone signed in from before).
    pub device: Option<String>,
}

/// A source offered on the login page.
#[derive(Clone, Debug)]
pub struct LoginChoice {
    pub name: String,
    pub slug: String,
    pub client_id: String,
}

/// The enabled sources, for the login page (public: it shows only names and client ids, as
/// authentik's login challenge does).
pub async fn choices(app: &AppState) -> ServiceResult<Vec<LoginChoice>> {
    let mut conn = app.store.read();
    let mut choices = Vec::new();
    for id in conn.source_ids().await? {
        if let Some(source) = conn.source_by_id(id).await?.filter(|s| s.enabled) {
            choices.push(LoginChoice { name: source.name, slug: source.slug, client_id: source.client_id });
        }
    }
    choices.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(choices)
}

/// What the account page shows about the signed-in user.
pub struct Account {
    pub user: User,
    pub connections: Vec<(UserConnection, Source, ConnectionAccess)>,
    pub sessions: Vec<plexid_core::model::Session>,
}

pub async fn account(app: &AppState, user: UserId) -> ServiceResult<Account> {
    let mut conn = app.store.read();
    let user = conn.user_by_id(user).await?.ok_or(ServiceError::NotAuthenticated)?;
    let mut connections = Vec::new();
    for (id, source_id) in conn.connections_of_user(user.id).await? {
        let (Some(connection), Some(source)) = (conn.user_connection(id).await?, conn.source_by_id(source_id).await?)
        else {
            continue;
        };
        let access = conn.connection_access(id).await?.unwrap_or_default();
        connections.push((connection, source, access));
    }
    let sessions = sessions::of_user(app, user.id).await?;
    Ok(Account { user, connections, sessions })
}

/// What a successful redeem did.
pub enum Redeemed {
    /// A session was started; the browser goes to `to`.
    SignedIn { started: Box<Started>, to: String },
    /// A new user needs a username first: the pending key goes in a cookie, the browser goes to
    /// `to` (the enrollment flow's page).
    NeedsUsername { pending_key: String, to: String },
    /// The signed-in caller's Plex account was connected.
    Linked { to: String },
}

/// `next` when it is a path on this site (no scheme, no host, no `//`), else the default.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.starts_with("/\\")
                && !path.chars().any(|c| c.is_control() || c == '\\') =>
        {
            path.to_owned()
        }
        _ => DEFAULT_NEXT.to_owned(),
    }
}

/// What plex.tv said, once the access rule let the person in.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Admitted {
    identifier: String,
    plex_username: String,
    /// The Plex user JSON without `authToken` or any other secret (`info` for mappings).
    info: Value,
    relationship: Relationship,
    /// Facts plex.tv did not give: those parts of the connection's relationship stay as they were.
    #[serde(default)]
    unknown: Vec<Fact>,
}

/// The mapped properties of the user and of each group (spec §4.1).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Properties {
    user: Map<String, Value>,
    groups: Vec<(String, Map<String, Value>)>,
}

/// A sign-in waiting for its username, as stored (the token encrypted).
#[derive(Serialize, Deserialize)]
struct Pending {
    admitted: Admitted,
    properties: Properties,
    plex_token: String,
    next: String,
}

pub async fn redeem(app: &AppState, actor: &Actor, request: Redeem) -> ServiceResult<Redeemed> {
    let source = app.store.read().source_by_slug(&request.slug).await?.ok_or(ServiceError::NotFound)?;
    request.body_errors.clone().into_result()?;
    let Some(token) = request.plex_token.clone().filter(|t| !t.is_empty()) else {
        return Err(FieldErrors::single("plex_token", "This field is required.").into());
    };
    let device = sessions::known_device(app, request.device.as_deref());
    app.login_limits.attempt(&request.client.ip, &source.slug, device.as_deref(), app.clock.now()).map_err(
        |retry_after| {
            app.metrics.limit_hit("sign_in");
            ServiceError::RateLimited { retry_after }
        },
    )?;
    if !source.enabled {
        return Err(deny(app, &source, DenyReason::SourceDisabled, None, &request.client).await);
    }
    let admitted = match check_access(app, &source, &token).await {
        Ok(Ok(admitted)) => admitted,
        Ok(Err((reason, plex_username))) => {
            return Err(deny(app, &source, reason, plex_username, &request.client).await)
        }
        Err(error) => return Err(plex_failed(app, &source, error, &request.client).await),
    };
    let properties = match map_properties(app, &source, &admitted).await {
        Ok(properties) => properties,
        Err(failure) => return Err(mapping_failed(app, &source, &admitted, failure, &request.client).await),
    };
    let signed_in = match actor {
        Actor::User(principal) => Some(principal.user),
        _ => None,
    };
    let next = safe_next(request.next.as_deref());
    let attempt = Attempt {
        app,
        source: &source,
        admitted: &admitted,
        properties: &properties,
        token: &token,
        client: &request.client,
    };
    let result = match attempt.write(signed_in, &next).await {
        // Another sign-in of the same account won the race: decide again with its rows.
        Err(Failure::Retry) => attempt.write(signed_in, &next).await,
        result => result,
    };
    match result {
        Ok(outcome) => Ok(app.metrics.counted_sign_in(&source.slug, outcome)),
        Err(Failure::Refuse(reason)) => Err(attempt.refuse(reason).await),
        Err(failure) => Err(failure.into_error()),
    }
}

/// Records a refusal in the audit log and returns it as the error to answer.
async fn deny(
    app: &AppState,
    source: &Source,
    reason: DenyReason,
    plex_username: Option<String>,
    client: &Client,
) -> ServiceError {
    app.metrics.sign_in_refused(&source.slug, reason.code());
    let message = reason.message(&source.name);
    let mut event = NewEvent::new(EventAction::LoginFailed, APP)
        .client_ip(&client.ip)
        .context("reason", reason.code())
        .context("message", message.as_str())
        .context("source", source_summary(source));
    if let Some(name) = plex_username {
        event = event.context("plex_username", name);
    }
    event = event.model("authentik_sources_plex", "plexsource", source.id.0, &source.name);
    if let Err(error) = events::record_refusal(app, event).await {
        tracing::error!(%error, "cannot record a refused sign-in");
    }
    ServiceError::Denied { reason, message }
}

/// Records a sign-in that plex.tv's failure stopped (a failure, not a refusal: D9) and returns
/// the error to answer.
async fn plex_failed(app: &AppState, source: &Source, error: ServiceError, client: &Client) -> ServiceError {
    let reason = match &error {
        ServiceError::PlexRateLimited { .. } => "plex_rate_limited",
        ServiceError::PlexUnavailable => "plex_unavailable",
        _ => return error,
    };
    let event = NewEvent::new(EventAction::LoginFailed, APP)
        .client_ip(&client.ip)
        .context("reason", reason)
        .context("message", "plex.tv failed before the sign-in could be decided; nothing was refused.")
        .context("source", source_summary(source))
        .model("authentik_sources_plex", "plexsource", source.id.0, &source.name);
    if let Err(failure) = events::record_alone(app, event).await {
        tracing::error!(error = %failure, "cannot record a sign-in stopped by plex.tv");
    }
    error
}

fn source_summary(source: &Source) -> Value {
    json!({"pk": source.id.0.to_string(), "slug": source.slug, "name": source.name})
}

/// The source's own Plex token, if it has one that decrypts.
pub fn owner_token(app: &AppState, source: &Source) -> Option<String> {
    if source.plex_token.is_empty() {
        return None;
    }
    match app.secrets.decrypt(&source.plex_token) {
        Ok(token) if !token.is_empty() => Some(token),
        Ok(_) => None,
        Err(_) => {
            tracing::warn!(source = %source.slug, "the source's Plex token cannot be decrypted (was the secret key changed?)");
            None
        }
    }
}

/// A failure of plex.tv as the error to answer (D9). The message never holds a token.
pub fn plex_failure(error: &PlexError) -> ServiceError {
    match error {
        PlexError::RateLimited { retry_after } => {
            ServiceError::PlexRateLimited { retry_after: retry_after.map(|d| d.as_secs().max(1)) }
        }
        PlexError::Unavailable(_) | PlexError::Gone(_) | PlexError::NotFound(_) => {
            tracing::warn!(%error, "plex.tv failed");
            ServiceError::PlexUnavailable
        }
        PlexError::Unauthorized => ServiceError::PlexUnavailable,
    }
}

/// Asks plex.tv about the person and the source's owner and applies the access rule.
/// `Ok(Err((reason, plex username)))` is a refusal; `Err` is plex.tv failing, either the
/// person's own identity call or a fact the decision needed (D9, D19).
async fn check_access(
    app: &AppState,
    source: &Source,
    token: &str,
) -> ServiceResult<Result<Admitted, (DenyReason, Option<String>)>> {
    let owner_token = owner_token(app, source);
    let query = OwnerQuery { servers: &source.allowed_servers, friends: source.allow_friends, fresh: false };
    let facts = app.plex.login_facts(&source.client_id, token, owner_token.as_deref().map(|t| (t, query))).await;
    if let Some(owner) = &facts.owner {
        plex_facts::observe(app, source, owner).await;
    }
    let user: PlexUser = match facts.user {
        Ok(user) => user,
        Err(PlexError::Unauthorized) => return Ok(Err((DenyReason::PlexTokenRejected, None))),
        Err(error) => return Err(plex_failure(&error)),
    };
    let mine = plex_facts::person_servers(&facts.resources);
    let person = PersonSide { id: user.id, servers: mine.as_deref() };
    let decide = |owner: &Option<plexid_plex::OwnerFacts>| {
        let owner = owner.as_ref().map(Owner::of).unwrap_or_default();
        decide_access(&owner.side(), &person, &source.allowed_servers, source.allow_friends)
    };
    let mut owner_facts = facts.owner;
    let mut access = decide(&owner_facts);
    if let (Access::Denied(_), Some(token)) = (&access, owner_token.as_deref()) {
        // A refusal is never made on cached owner facts: a share or a friendship the owner just
        // added counts at once.
        let fresh = app.plex.owner(&source.client_id, token, OwnerQuery { fresh: true, ..query }).await;
        plex_facts::observe(app, source, &fresh).await;
        owner_facts = Some(fresh);
        access = decide(&owner_facts);
    }
    match access {
        Access::Granted { relationship, unknown } => Ok(Ok(Admitted {
            identifier: user.id.to_string(),
            plex_username: rules::clean_text(&user.username, rules::USERNAME_MAX_LENGTH),
            info: user.raw.clone(),
            relationship,
            unknown,
        })),
        Access::Denied(hint) => {
            let reason = match hint {
                Some(DenyHint::ClaimedServer) => DenyReason::ServerClaimed,
                None => DenyReason::NotAllowed,
            };
            Ok(Err((reason, Some(user.username))))
        }
        Access::Unknown { missing } => {
            if owner_token.is_none() {
                tracing::warn!(source = %source.slug, "the source has no usable Plex token: sign-ins cannot be decided");
            }
            let errors = missing.iter().map(|f| plex_facts::error_of(*f, owner_facts.as_ref(), Some(&facts.resources)));
            Err(plex_facts::unavailable(errors))
        }
    }
}

/// The `source` variable of mapping expressions.
fn source_variable(source: &Source) -> Value {
    json!({
        "pk": source.id.0.to_string(),
        "name": source.name,
        "slug": source.slug,
        "enabled": source.enabled,
        "client_id": source.client_id,
        "allowed_servers": source.allowed_servers,
        "allow_friends": source.allow_friends,
        "user_matching_mode": source.user_matching_mode.as_str(),
        "group_matching_mode": source.group_matching_mode.as_str(),
        "user_path_template": source.user_path_template,
    })
}

/// A mapping that failed: its name and what went wrong.
struct MappingFailure {
    mapping: String,
    message: String,
}

/// Runs the mappings in `ids` (ordered by name) over `properties` (spec §4.1 steps 2–5).
async fn run_mappings(
    app: &AppState,
    ids: &[plexid_core::MappingId],
    mut variables: Map<String, Value>,
    mut properties: Map<String, Value>,
) -> Result<Map<String, Value>, MappingFailure> {
    let stored = |e: StoreError| MappingFailure { mapping: String::new(), message: e.to_string() };
    let mut mappings = app.store.read().mappings_by_ids(ids).await.map_err(stored)?;
    mappings.sort_by(|a, b| a.name.cmp(&b.name));
    for mapping in mappings {
        variables.insert("properties".into(), Value::Object(properties.clone()));
        let result = super::mappings::evaluate(app, mapping.expression.clone(), variables.clone())
            .await
            .map_err(|e| MappingFailure { mapping: mapping.name.clone(), message: super::mappings::describe(&e) })?;
        plexid_mapping::merge_properties(&mut properties, &result);
    }
    plexid_mapping::drop_nulls(&mut properties);
    Ok(properties)
}

/// The base user properties of spec §4.1 (`username`, `email`, `name`, `path`, `attributes`).
fn base_user_properties(info: &Value, path: String) -> Map<String, Value> {
    let mut properties = Map::new();
    for (key, field) in [("username", "username"), ("email", "email"), ("name", "title")] {
        properties.insert(key.into(), info.get(field).cloned().unwrap_or(Value::Null));
    }
    properties.insert("path".into(), Value::String(path));
    properties.insert("attributes".into(), Value::Object(Map::new()));
    properties
}

/// The base group properties of spec §4.1: the group id is the name.
fn base_group_properties(group_id: &str) -> Map<String, Value> {
    let mut properties = Map::new();
    properties.insert("name".into(), Value::String(group_id.to_owned()));
    properties.insert("attributes".into(), Value::Object(Map::new()));
    properties
}

/// The group ids a mapping named (strings; numbers are written out, other values skipped).
fn group_ids(value: Option<Value>) -> Vec<String> {
    let Some(Value::Array(items)) = value else { return Vec::new() };
    let mut ids: Vec<String> = Vec::new();
    for item in items {
        let id = match item {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            _ => continue,
        };
        if !id.is_empty() && !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

async fn map_properties(app: &AppState, source: &Source, admitted: &Admitted) -> Result<Properties, MappingFailure> {
    let mut variables = Map::new();
    variables.insert("info".into(), admitted.info.clone());
    variables.insert("source".into(), source_variable(source));
    variables.insert("request".into(), Value::Null);
    let path = plexid_core::source::user_path(&source.user_path_template, &source.slug);
    let base = base_user_properties(&admitted.info, path);
    let mut user = run_mappings(app, &source.user_property_mappings, variables.clone(), base).await?;
    let mut groups = Vec::new();
    for group_id in group_ids(user.remove("groups")) {
        let mut group_variables = variables.clone();
        group_variables.insert("group_id".into(), Value::String(group_id.clone()));
        let base = base_group_properties(&group_id);
        let properties = run_mappings(app, &source.group_property_mappings, group_variables, base).await?;
        groups.push((group_id, properties));
    }
    Ok(Properties { user, groups })
}

/// D13: the admin learns which mapping failed and why; the person is refused with a clear
/// message; nothing is written.
async fn mapping_failed(
    app: &AppState,
    source: &Source,
    admitted: &Admitted,
    failure: MappingFailure,
    client: &Client,
) -> ServiceError {
    let events = [
        NewEvent::new(EventAction::PropertyMappingException, APP)
            .context("mapping", failure.mapping.as_str())
            .context("message", failure.message.as_str()),
        NewEvent::new(EventAction::ConfigurationError, APP)
            .context("message", format!("Failed to evaluate property mapping: '{}'", failure.mapping)),
    ];
    for event in events {
        let event = event.client_ip(&client.ip).context("source", source_summary(source)).model(
            "authentik_sources_plex",
            "plexsource",
            source.id.0,
            &source.name,
        );
        if let Err(error) = events::record_alone(app, event).await {
            tracing::error!(%error, "cannot record a mapping failure");
        }
    }
    deny(app, source, DenyReason::MappingFailed, Some(admitted.plex_username.clone()), client).await
}

/// Why a write attempt failed: a race to retry once, a refusal (recorded once the transaction
/// is gone), or an answer.
enum Failure {
    Retry,
    Refuse(DenyReason),
    Fail(ServiceError),
}

impl Failure {
    fn into_error(self) -> ServiceError {
        match self {
            Failure::Retry => ServiceError::Internal("concurrent sign-ins kept conflicting".into()),
            Failure::Refuse(reason) => ServiceError::Internal(format!("unrecorded refusal {}", reason.code())),
            Failure::Fail(error) => error,
        }
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unique(
                Constraint::UserConnectionSourceIdentifier
                | Constraint::UserConnectionUserSource
                | Constraint::Username
                | Constraint::GroupConnectionSourceIdentifier
                | Constraint::GroupConnectionGroupSource
                | Constraint::GroupNameParent,
            ) => Failure::Retry,
            other => Failure::Fail(other.into()),
        }
    }
}

impl From<ServiceError> for Failure {
    fn from(error: ServiceError) -> Self {
        Failure::Fail(error)
    }
}

/// One sign-in's decision and writes.
struct Attempt<'a> {
    app: &'a AppState,
    source: &'a Source,
    admitted: &'a Admitted,
    properties: &'a Properties,
    token: &'a str,
    client: &'a Client,
}

fn text<'v>(properties: &'v Map<String, Value>, key: &str) -> Option<&'v str> {
    properties.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// The email address plex.tv says is confirmed (`confirmed: true` in `/api/v2/user`, as recorded
/// in public client libraries' fixtures), if it is one plexid would accept; empty otherwise.
fn verified_email(info: &Value) -> String {
    let confirmed = info.get("confirmed").and_then(Value::as_bool) == Some(true);
    match info.get("email").and_then(Value::as_str) {
        Some(email) if confirmed && rules::is_valid_email(email) => email.to_owned(),
        _ => String::new(),
    }
}

/// A group's mapped name, cleaned and cut to authentik's limit.
fn group_name(properties: &Map<String, Value>) -> Option<String> {
    text(properties, "name").map(|n| rules::clean_text(n, rules::GROUP_NAME_MAX_LENGTH)).filter(|n| !n.is_empty())
}

/// A connection's refresh at a sign-in, written at the end of its transaction.
struct Refresh {
    connection: UserConnection,
    access: ConnectionAccess,
    verified_email: String,
}

/// A sign-in within this long of the user's recorded last login leaves it as it is: one
/// person's simultaneous sign-ins then do not each rewrite their user row (on PostgreSQL,
/// waiting for each other's row lock until commit).
pub const LAST_LOGIN_PRECISION: jiff::SignedDuration = jiff::SignedDuration::from_secs(1);

/// How long a returning member's connection goes unwritten while their sign-ins find nothing new
/// (the same Plex token, relationship and confirmed email, access not revoked): their repeated
/// or simultaneous sign-ins then do not rewrite the same row, each waiting (on PostgreSQL) for
/// the previous one's commit. Its `access_checked` and `last_updated` are then up to this old.
pub const UNCHANGED_CONNECTION_KEPT: jiff::SignedDuration = jiff::SignedDuration::from_mins(1);

/// Whether a returning member's sign-in rewrites their connection (see
/// [`UNCHANGED_CONNECTION_KEPT`]).
fn must_rewrite(
    stored: &ConnectionAccess,
    stored_email: &str,
    found: &ConnectionAccess,
    found_email: &str,
    same_token: bool,
    now: Timestamp,
) -> bool {
    let recent =
        stored.checked.is_some_and(|checked| plexid_core::time::later(checked, UNCHANGED_CONNECTION_KEPT) > now);
    !(same_token
        && recent
        && stored.revoked.is_none()
        && stored.relationship == found.relationship
        && stored_email == found_email)
}

impl Attempt<'_> {
    async fn write(&self, signed_in: Option<UserId>, next: &str) -> Result<Redeemed, Failure> {
        let app = self.app;
        let now = app.clock.now();
        let mut tx = app.store.begin().await?;
        let mut conn = tx.conn();
        let existing = conn.user_connection_by_identifier(self.source.id, &self.admitted.identifier).await?;
        let connected = match &existing {
            Some(c) => conn.candidate(c.user, self.source.id).await?,
            None => None,
        };
        let mode = self.source.user_matching_mode;
        let value = match mode {
            UserMatchingMode::EmailLink | UserMatchingMode::EmailDeny => text(&self.properties.user, "email"),
            UserMatchingMode::UsernameLink | UserMatchingMode::UsernameDeny => text(&self.properties.user, "username"),
            UserMatchingMode::Identifier => None,
        };
        let matches = match (mode, value, &existing, signed_in) {
            (_, Some(value), None, None) => match mode {
                UserMatchingMode::EmailLink | UserMatchingMode::EmailDeny => {
                    conn.users_with_email(value, self.source.id).await?
                }
                _ => conn.users_with_username(value, self.source.id).await?,
            },
            _ => Vec::new(),
        };
        let me = match signed_in {
            Some(id) => conn.candidate(id, self.source.id).await?,
            None => None,
        };
        let lookup = UserLookup { connected, signed_in: me, value, matches: &matches };
        let action = decide_user(mode, &lookup);
        let outcome = match action {
            UserAction::Deny(reason) => return Err(Failure::Refuse(reason)),
            UserAction::LinkedElsewhere => {
                return Err(Failure::Fail(
                    FieldErrors::single(
                        "plex_token",
                        "This Plex account is already linked to another user of this source.",
                    )
                    .into(),
                ))
            }
            UserAction::AlreadyConnected => return Err(Failure::Fail(
                FieldErrors::single(
                    "plex_token",
                    "You already have a Plex account connected to this source: disconnect it first to connect another.",
                )
                .into(),
            )),
            UserAction::Link(user) if signed_in.is_some() => {
                let mut conn = tx.conn();
                let user = conn.user_by_id(user).await?.ok_or(ServiceError::NotAuthenticated)?;
                let (linked, refresh) = self.connect(&mut conn, &user, existing, now).await?;
                if linked {
                    self.record(&mut conn, EventAction::SourceLinked, &user, now).await?;
                }
                self.refresh(&mut conn, refresh).await?;
                Redeemed::Linked { to: DEFAULT_NEXT.to_owned() }
            }
            UserAction::Authenticate(user) | UserAction::Link(user) => {
                if self.source.authentication_flow.is_none() {
                    return Err(Failure::Refuse(DenyReason::NoAuthenticationFlow));
                }
                let mut conn = tx.conn();
                let user = conn.user_by_id(user).await?.ok_or(ServiceError::NotFound)?;
                let (linked, refresh) = self.connect(&mut conn, &user, existing, now).await?;
                if linked {
                    self.record(&mut conn, EventAction::SourceLinked, &user, now).await?;
                }
                let started = self.sign_in(&mut conn, &user, now, refresh).await?;
                Redeemed::SignedIn { started: Box::new(started), to: next.to_owned() }
            }
            UserAction::Enroll => {
                if self.source.enrollment_flow.is_none() {
                    return Err(Failure::Refuse(DenyReason::NoEnrollmentFlow));
                }
                let mut conn = tx.conn();
                // A username plexid's own API would refuse (too long, odd characters) goes to
                // the username step instead.
                let wanted = text(&self.properties.user, "username").filter(|name| rules::is_valid_username(name));
                let free = match wanted {
                    Some(name) => !conn.username_taken(name).await?,
                    None => false,
                };
                match wanted.filter(|_| free) {
                    Some(username) => {
                        let started = self.enroll(&mut conn, username, now).await?;
                        Redeemed::SignedIn { started: Box::new(started), to: next.to_owned() }
                    }
                    None => {
                        let pending_key = self.park(&mut conn, next, now).await?;
                        let flow = self.source.enrollment_flow.expect("checked above");
                        let slug =
                            tx.conn().flow_by_id(flow).await?.map_or_else(|| "enrollment".to_owned(), |f| f.slug);
                        Redeemed::NeedsUsername {
                            pending_key,
                            to: format!("/if/flow/{slug}/?slug={}", self.source.slug),
                        }
                    }
                }
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    async fn refuse(&self, reason: DenyReason) -> ServiceError {
        deny(self.app, self.source, reason, Some(self.admitted.plex_username.clone()), self.client).await
    }

    async fn record(
        &self,
        conn: &mut Conn<'_, ReadWrite>,
        action: EventAction,
        user: &User,
        now: Timestamp,
    ) -> ServiceResult<()> {
        let event = NewEvent::new(action, APP)
            .user(user)
            .client_ip(&self.client.ip)
            .context("source", source_summary(self.source))
            .context("plex_username", self.admitted.plex_username.as_str())
            .model("authentik_sources_plex", "plexsource", self.source.id.0, &self.source.name);
        events::record(conn, event, now).await
    }

    /// Connects (or refreshes the connection of) this Plex account to `user`, with the token of
    /// this sign-in and what the access rule found. Returns whether the connection is new, and
    /// for one that is not, the refresh to write with [`Attempt::refresh`]: every sign-in of a
    /// person writes that row, so the sign-in writes it last, and concurrent sign-ins of one
    /// person (on PostgreSQL) wait for each other's row lock only through the end of the
    /// transaction.
    async fn connect(
        &self,
        conn: &mut Conn<'_, ReadWrite>,
        user: &User,
        existing: Option<UserConnection>,
        now: Timestamp,
    ) -> Result<(bool, Option<Refresh>), Failure> {
        let verified_email = verified_email(&self.admitted.info);
        let access = |previous: &Relationship| ConnectionAccess {
            relationship: self.admitted.relationship.clone().keeping(previous, &self.admitted.unknown),
            checked: Some(now),
            revoked: None,
        };
        match existing.filter(|c| c.user == user.id) {
            Some(mut connection) => {
                let (stored, stored_email) = conn.connection_access_and_email(connection.id).await?.unwrap_or_default();
                let access = access(&stored.relationship);
                let same_token = self.app.secrets.decrypt(&connection.plex_token).is_ok_and(|t| t == self.token);
                // While a sweep may be running, the check is always written: the sweep leaves a
                // connection checked after it gathered its facts alone, and this sign-in's facts
                // may be newer than the sweep's.
                if !must_rewrite(&stored, &stored_email, &access, &verified_email, same_token, now)
                    && !conn.lease_held(crate::jobs::access::JOB, now).await?
                {
                    return Ok((false, None));
                }
                connection.plex_token = self.app.secrets.encrypt(self.token);
                connection.last_updated = now;
                Ok((false, Some(Refresh { connection, access, verified_email })))
            }
            None => {
                let connection = UserConnection {
                    id: UserConnectionId(0),
                    user: user.id,
                    source: self.source.id,
                    identifier: self.admitted.identifier.clone(),
                    plex_token: self.app.secrets.encrypt(self.token),
                    created: now,
                    last_updated: now,
                };
                let id = conn.insert_user_connection(&connection).await?;
                conn.set_connection_access(id, &access(&Relationship::default())).await?;
                conn.set_verified_email(id, &verified_email).await?;
                Ok((true, None))
            }
        }
    }

    /// Writes what [`Attempt::connect`] left for the end.
    async fn refresh(&self, conn: &mut Conn<'_, ReadWrite>, refresh: Option<Refresh>) -> Result<(), Failure> {
        if let Some(r) = refresh {
            conn.refresh_user_connection(&r.connection, &r.access, &r.verified_email).await?;
        }
        Ok(())
    }

    /// Signs `user` in: groups synchronised, the session and the login event, then the rows
    /// every sign-in of this person writes (last login, the connection's `refresh`).
    async fn sign_in(
        &self,
        conn: &mut Conn<'_, ReadWrite>,
        user: &User,
        now: Timestamp,
        refresh: Option<Refresh>,
    ) -> Result<Started, Failure> {
        self.sync_groups(conn, user.id, now).await?;
        // The source's owner, when its administrator asked for it (the first source's form).
        if self.admitted.relationship.owner && conn.take_owner_admin_grant(self.source.id).await? {
            super::groups::make_administrator(conn, &Actor::System, now, user.id).await?;
        }
        let mut after = user.clone();
        after.last_login = Some(now);
        let started = sessions::start(conn, self.app, user.id, Some(self.source.id), self.client).await?;
        self.record(conn, EventAction::Login, &after, now).await?;
        if user.last_login.is_none_or(|last| plexid_core::time::later(last, LAST_LOGIN_PRECISION) <= now) {
            conn.update_user(user, &after).await?;
        }
        self.refresh(conn, refresh).await?;
        Ok(started)
    }

    /// Creates the user from the mapped properties, connects and signs them in.
    async fn enroll(&self, conn: &mut Conn<'_, ReadWrite>, username: &str, now: Timestamp) -> Result<Started, Failure> {
        let props = &self.properties.user;
        let mut user = User::named(username, now);
        // plex.tv's (or a mapping's) values, bounded like the API's own input: the name cleaned
        // and cut, an email the API would refuse dropped.
        user.name = rules::clean_text(text(props, "name").unwrap_or_default(), rules::NAME_MAX_LENGTH);
        user.email = text(props, "email").filter(|e| rules::is_valid_email(e)).unwrap_or_default().to_owned();
        user.path = text(props, "path").filter(|p| rules::user_path_error(p).is_none()).map_or_else(
            || plexid_core::source::user_path(&self.source.user_path_template, &self.source.slug),
            str::to_owned,
        );
        if let Some(Value::Object(attributes)) = props.get("attributes") {
            user.attributes = attributes.clone();
        }
        user.id = conn.insert_user(&user).await?;
        self.connect(conn, &user, None, now).await?;
        let event = NewEvent::new(EventAction::UserWrite, APP)
            .user(&user)
            .client_ip(&self.client.ip)
            .context("created", true)
            .context("source", source_summary(self.source))
            .model("authentik_core", "user", user.id.0, &user.username);
        events::record(conn, event, now).await?;
        self.record(conn, EventAction::SourceLinked, &user, now).await?;
        self.sign_in(conn, &user, now, None).await
    }

    /// Keeps the sign-in until the person picks a username; returns the key for their cookie.
    async fn park(&self, conn: &mut Conn<'_, ReadWrite>, next: &str, now: Timestamp) -> ServiceResult<String> {
        let pending = Pending {
            admitted: self.admitted.clone(),
            properties: self.properties.clone(),
            plex_token: self.app.secrets.encrypt(self.token),
            next: next.to_owned(),
        };
        let payload = serde_json::to_string(&pending).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let (key, hash) = sessions::new_pending_key();
        conn.insert_pending_login(&hash, self.source.id, &payload, plexid_core::time::later(now, PENDING_LIFETIME))
            .await?;
        Ok(key)
    }

    /// Spec §4.6 with D11: every group the mappings named, found or created, connected to the
    /// source; the user's memberships of this source's groups made exactly those. A refused group
    /// refuses the sign-in (nothing is written).
    async fn sync_groups(&self, conn: &mut Conn<'_, ReadWrite>, user: UserId, now: Timestamp) -> Result<(), Failure> {
        let mut members_of: Vec<GroupId> = Vec::new();
        for (identifier, props) in &self.properties.groups {
            let connection = conn.group_connection_by_identifier(self.source.id, identifier).await?;
            let name = group_name(props);
            let name = name.as_deref();
            let same_name = match (&connection, name) {
                (None, Some(name)) => conn.groups_named(name).await?,
                _ => Vec::new(),
            };
            let action =
                decide_group(self.source.group_matching_mode, connection.as_ref().map(|c| c.group), name, &same_name);
            let group = match action {
                GroupAction::Deny => return Err(Failure::Refuse(DenyReason::GroupDenied)),
                GroupAction::Existing(id) | GroupAction::Link(id) => {
                    // Most sign-ins change nothing in the group: it is locked (and read again)
                    // only to write a change, so that on PostgreSQL the members of one group
                    // do not sign in one at a time behind its row lock.
                    let Some(seen) = conn.group_by_id(id).await? else { continue };
                    if updated_group(&seen, props) != seen {
                        let Some(before) = conn.group_for_update(id).await? else { continue };
                        conn.update_group(&before, &updated_group(&before, props)).await?;
                    }
                    id
                }
                GroupAction::Create => {
                    let fallback = rules::clean_text(identifier, rules::GROUP_NAME_MAX_LENGTH);
                    let mut group = Group::named(name.unwrap_or(&fallback));
                    group.attributes = attributes_of(props);
                    conn.insert_group(&group).await?;
                    group.id
                }
            };
            if connection.is_none() {
                let link = GroupConnection {
                    id: GroupConnectionId(0),
                    group,
                    source: self.source.id,
                    identifier: identifier.clone(),
                    created: now,
                    last_updated: now,
                };
                conn.insert_group_connection(&link).await?;
            }
            members_of.push(group);
        }
        // Only what changed is written: an unchanged membership costs no write (and, on
        // PostgreSQL, no notification that drops every instance's auth caches).
        let current = conn.source_groups_of_user(user, self.source.id).await?;
        for group in current.iter().filter(|g| !members_of.contains(g)) {
            conn.remove_member(*group, user).await?;
        }
        for group in members_of.iter().filter(|g| !current.contains(g)) {
            conn.add_member(*group, user).await?;
        }
        Ok(())
    }
}

fn attributes_of(props: &Map<String, Value>) -> Map<String, Value> {
    match props.get("attributes") {
        Some(Value::Object(attributes)) => attributes.clone(),
        _ => Map::new(),
    }
}

/// authentik's `update_attributes`: the mapped name, and the mapped attributes merged in.
fn updated_group(before: &Group, props: &Map<String, Value>) -> Group {
    let mut after = before.clone();
    if let Some(name) = group_name(props) {
        after.name = name;
    }
    for (key, value) in attributes_of(props) {
        after.attributes.insert(key, value);
    }
    after
}

/// Finishes a sign-in that waited for a username (the enrollment page).
pub async fn complete_enrollment(
    app: &AppState,
    pending_key: &str,
    username: &str,
    client: &Client,
) -> ServiceResult<(Started, String)> {
    let now = app.clock.now();
    let hash = crate::crypto::hash_token(pending_key);
    let (source_id, payload) = app.store.read().pending_login(&hash, now).await?.ok_or(ServiceError::NotFound)?;
    let source = app.store.read().source_by_id(source_id).await?.ok_or(ServiceError::NotFound)?;
    let pending: Pending = serde_json::from_str(&payload).map_err(|e| ServiceError::Internal(e.to_string()))?;
    let username = username.trim();
    if !rules::is_username(username) || username.len() > rules::USERNAME_MAX_LENGTH {
        return Err(FieldErrors::single("username", rules::BAD_USERNAME).into());
    }
    let token = app.secrets.decrypt(&pending.plex_token).map_err(|_| ServiceError::NotFound)?;
    let attempt = Attempt {
        app,
        source: &source,
        admitted: &pending.admitted,
        properties: &pending.properties,
        token: &token,
        client,
    };
    let taken = || ServiceError::from(FieldErrors::single("username", "A user with that username already exists."));
    let result: Result<Started, Failure> = async {
        let mut tx = app.store.begin().await?;
        let mut conn = tx.conn();
        if conn.username_taken(username).await? {
            return Err(Failure::Fail(taken()));
        }
        if conn.user_connection_by_identifier(source.id, &pending.admitted.identifier).await?.is_some() {
            return Err(Failure::Fail(
                FieldErrors::single("username", "This Plex account has already been signed up.").into(),
            ));
        }
        let started = attempt.enroll(&mut conn, username, now).await?;
        conn.delete_pending_login(&hash).await?;
        tx.commit().await?;
        Ok(started)
    }
    .await;
    match result {
        Ok(started) => Ok((app.metrics.counted_sign_in(&source.slug, started), pending.next)),
        Err(Failure::Retry) => Err(taken()),
        Err(Failure::Refuse(reason)) => Err(attempt.refuse(reason).await),
        Err(Failure::Fail(error)) => Err(error),
    }
}

/// The mapped username of a waiting sign-in, to pre-fill the page when it is valid and free
/// (empty otherwise), if the key is live.
pub async fn pending_username(app: &AppState, pending_key: &str) -> ServiceResult<Option<String>> {
    let hash = crate::crypto::hash_token(pending_key);
    let Some((_, payload)) = app.store.read().pending_login(&hash, app.clock.now()).await? else {
        return Ok(None);
    };
    let pending: Pending = serde_json::from_str(&payload).map_err(|e| ServiceError::Internal(e.to_string()))?;
    // Only a username that could be taken as it is: valid, and free.
    let wanted = text(&pending.properties.user, "username").filter(|name| rules::is_valid_username(name));
    let free = match wanted {
        Some(name) => !app.store.read().username_taken(name).await?,
        None => false,
    };
    Ok(Some(wanted.filter(|_| free).unwrap_or_default().to_owned()))
}

/// Connects the signed-in caller's Plex account (`redeem_token_authenticated`).
pub async fn connect(app: &AppState, actor: &Actor, request: Redeem) -> ServiceResult<()> {
    actor.principal()?;
    match redeem(app, actor, request).await? {
        Redeemed::Linked { .. } => Ok(()),
        _ => Err(ServiceError::Internal("a signed-in redeem did not link".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unchanged_connection_is_rewritten_only_once_a_minute() {
        let now: Timestamp = "2026-12-07T10:00:00Z".parse().unwrap();
        let friend = Relationship { friend: true, ..Relationship::default() };
        let stored = |checked_ago: i64| ConnectionAccess {
            relationship: friend.clone(),
            checked: Some(plexid_core::time::later(now, jiff::SignedDuration::from_secs(-checked_ago))),
            revoked: None,
        };
        let found = ConnectionAccess { relationship: friend.clone(), checked: Some(now), revoked: None };
        let email = "friend@example.com";
        assert!(!must_rewrite(&stored(5), email, &found, email, true, now));
        assert!(!must_rewrite(&stored(59), email, &found, email, true, now));
        // Too old, never checked, another token, another relationship or email, revoked: written.
        assert!(must_rewrite(&stored(60), email, &found, email, true, now));
        assert!(must_rewrite(&ConnectionAccess { checked: None, ..stored(5) }, email, &found, email, true, now));
        assert!(must_rewrite(&stored(5), email, &found, email, false, now));
        let member = ConnectionAccess {
            relationship: Relationship { servers: vec!["s".into()], ..friend.clone() },
            ..found.clone()
        };
        assert!(must_rewrite(&stored(5), email, &member, email, true, now));
        assert!(must_rewrite(&stored(5), "", &found, email, true, now));
        assert!(must_rewrite(&ConnectionAccess { revoked: Some(now), ..stored(5) }, email, &found, email, true, now));
    }

    #[test]
    fn next_must_stay_on_this_site() {
        assert_eq!(safe_next(Some("/if/user/")), "/if/user/");
        assert_eq!(safe_next(Some("/app?x=1")), "/app?x=1");
        for bad in ["https://evil.example/", "//evil.example/", "/\\evil.example", "evil", "", "/a\\b", "/a\nb"] {
            assert_eq!(safe_next(Some(bad)), DEFAULT_NEXT, "{bad:?}");
        }
        assert_eq!(safe_next(None), DEFAULT_NEXT);
    }

    #[test]
    fn base_properties_follow_authentik() {
        let info =
            json!({"id": 1234123419, "uuid": "q", "username": "username", "title": "title", "email": "foo@bar.baz"});
        let props = base_user_properties(&info, "goauthentik.io/sources/test".into());
        assert_eq!(
            Value::Object(props),
            json!({"username": "username", "email": "foo@bar.baz", "name": "title",
                   "path": "goauthentik.io/sources/test", "attributes": {}})
        );
    }

    #[test]
    fn only_an_address_plex_confirmed_is_verified() {
        assert_eq!(verified_email(&json!({"email": "a@example.com", "confirmed": true})), "a@example.com");
        assert_eq!(verified_email(&json!({"email": "a@example.com", "confirmed": false})), "");
        assert_eq!(verified_email(&json!({"email": "a@example.com"})), "");
        assert_eq!(verified_email(&json!({"email": "", "confirmed": true})), "", "a managed Home user");
        assert_eq!(verified_email(&json!({"email": null, "confirmed": true})), "");
    }

    #[test]
    fn base_group_properties_name_the_group() {
        for id in ["group 1", "group 2"] {
            assert_eq!(Value::Object(base_group_properties(id)), json!({"name": id, "attributes": {}}));
        }
    }

    #[test]
    fn group_ids_are_strings_without_repeats() {
        assert_eq!(group_ids(Some(json!(["group 1", "group 2", "group 1", 7, null, ""]))), ["group 1", "group 2", "7"]);
        assert!(group_ids(Some(json!("not a list"))).is_empty());
        assert!(group_ids(None).is_empty());
    }

    #[test]
    fn groups_take_the_mapped_name_and_merge_attributes() {
        let mut before = Group::named("old");
        before.attributes.insert("keep".into(), json!(1));
        let props = json!({"name": "new", "attributes": {"added": true}});
        let after = updated_group(&before, props.as_object().unwrap());
        assert_eq!(after.name, "new");
        assert_eq!(Value::Object(after.attributes), json!({"keep": 1, "added": true}));
    }
}
