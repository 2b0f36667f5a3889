//! The OpenID Connect provider: the authorization code flow (with PKCE), tokens, refresh with
//! rotation, userinfo, introspection and revocation. Codes and tokens are random strings stored
//! as hashes; ID tokens are JWTs signed with plexid's own keys ([`super::keys`]). Every use of a
//! token asks the application's access rule again, so a user who lost access (the access sweep
//! revoked their Plex connection, an admin removed them from a group) is refused at once.
//!
//! Forward-auth providers use the same authorization step: their "client" is plexid itself,
//! exchanging the code in [`consume_code`].

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use plexid_core::apps::{AppDenial, Application, Provider};
use plexid_core::login::Relationship;
use plexid_core::model::User;
use plexid_core::modes::{ClientType, EventAction, IssuerMode, ProviderKind, SubMode};
use plexid_core::{Timestamp, UserId};
use plexid_store::oauth::{OAuthCode, OAuthToken};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::events::{self, NewEvent};
use super::{applications, keys, AppState, Principal, ServiceError};
use crate::crypto::{generate_key, hash_token};

const APP: &str = "authentik.providers.oauth2";
pub const ACR: &str = "goauthentik.io/providers/oauth2/default";

/// An OAuth2 error answer (RFC 6749 §5.2): the status and the `error` code.
#[derive(Debug, PartialEq)]
pub struct OAuthError {
    pub status: u16,
    pub error: &'static str,
    pub description: String,
}

/// The standard description of an RFC 6749 error code (§4.1.2.1, §5.2), in the wording of
/// oauthlib that authentik answers with, so clients see the same texts from both.
pub fn standard_description(error: &str) -> &'static str {
    match error {
        "invalid_client" => {
            "Client authentication failed (e.g., unknown client, no client authentication included, or unsupported authentication method)"
        }
        "invalid_grant" => {
            "The provided authorization grant or refresh token is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client"
        }
        "unauthorized_client" => "The authenticated client is not authorized to use this authorization grant type",
        "unsupported_grant_type" => "The authorization grant type is not supported by the authorization server",
        "invalid_scope" => {
            "The requested scope is invalid, unknown, malformed, or exceeds the scope granted by the resource owner"
        }
        "unsupported_response_type" => {
            "The authorization server does not support obtaining an authorization code using this method"
        }
        "access_denied" => "The resource owner or authorization server denied the request",
        "server_error" => "The authorization server encountered an error",
        _ => "The request is otherwise malformed",
    }
}

impl OAuthError {
    /// An error with the standard description of its code; `reason`, plexid's precise account
    /// of it, goes to the log (at debug level: it is the client's mistake).
    fn new(error: &'static str, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        tracing::debug!(error, %reason, "oauth request refused");
        OAuthError { status: 400, error, description: standard_description(error).to_owned() }
    }

    pub fn invalid_client() -> Self {
        OAuthError::new("invalid_client", "unknown client or wrong credentials")
    }

    fn invalid_grant(description: &str) -> Self {
        OAuthError::new("invalid_grant", description)
    }
}

impl From<ServiceError> for OAuthError {
    fn from(error: ServiceError) -> Self {
        tracing::warn!(%error, "oauth request failed");
        OAuthError { status: 500, error: "server_error", description: standard_description("server_error").into() }
    }
}

impl From<plexid_store::StoreError> for OAuthError {
    fn from(error: plexid_store::StoreError) -> Self {
        ServiceError::from(error).into()
    }
}

type OAuthResult<T> = Result<T, OAuthError>;

/// The parameters of an authorization request.
#[derive(Clone, Debug, Default)]
pub struct AuthorizeRequest {
    pub response_type: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
}

/// What the authorization endpoint does.
#[derive(Debug, PartialEq)]
pub enum Authorized {
    /// Send the browser to the client (with a code, or an error the client should see).
    Redirect(String),
    /// The browser must sign in first, on this flow's page.
    SignIn { flow_slug: String },
    /// The request cannot be trusted to go back to the client (unknown client, unregistered
    /// redirect URI): plexid shows the error itself (RFC 6749 §4.1.2.1).
    Invalid(String),
    /// The user may not use this application.
    Denied { application: String, reason: AppDenial },
}

/// A provider with the application it belongs to.
#[derive(Clone, Debug)]
pub struct Client {
    pub provider: Provider,
    pub application: Application,
}

/// The provider whose client id this is, with its application (a provider without an
/// application serves nobody).
pub async fn client(app: &AppState, client_id: &str) -> Result<Option<Client>, ServiceError> {
    let mut conn = app.store.read();
    let Some(row) = conn.provider_by_client_id(client_id).await? else { return Ok(None) };
    let Some(application) = conn.application_of_provider(row.provider.id).await? else { return Ok(None) };
    Ok(Some(Client { provider: row.provider, application }))
}

/// The application `slug` and its OpenID Connect provider (from memory on a warm instance
/// while nothing changed).
pub async fn client_by_slug(app: &AppState, slug: &str) -> Result<Option<Client>, ServiceError> {
    let key = format!("oidc:{slug}");
    let generation = app.store.auth_generation();
    if let Some(found) = app.auth_cache.hosts.get(&key, generation) {
        return Ok(found);
    }
    let mut conn = app.store.read();
    let found = match conn.application_by_slug(slug).await? {
        Some(application) => match application.provider {
            Some(id) => conn
                .provider_by_id(id)
                .await?
                .map(|r| r.provider)
                .filter(|p| p.kind == ProviderKind::OAuth2)
                .map(|provider| Client { provider, application }),
            None => None,
        },
        None => None,
    };
    app.auth_cache.hosts.put(&key, generation, found.clone());
    Ok(found)
}

fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    match url::Url::parse(base) {
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(pairs);
            url.to_string()
        }
        Err(_) => base.to_owned(),
    }
}

/// Sends the error back to the client with the standard description of its code; `reason` is
/// logged.
fn error_redirect(req: &AuthorizeRequest, error: &str, reason: &str) -> Authorized {
    tracing::debug!(error, reason, "authorization request refused");
    let mut pairs = vec![("error", error), ("error_description", standard_description(error))];
    if let Some(state) = &req.state {
        pairs.push(("state", state));
    }
    Authorized::Redirect(with_query(&req.redirect_uri, &pairs))
}

/// `S256`: BASE64URL(SHA256(verifier)) equals the challenge (RFC 7636 §4.6).
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    B64URL.encode(Sha256::digest(verifier.as_bytes())) == challenge
}

/// RFC 7636's verifier: 43 to 128 characters of `[A-Za-z0-9-._~]`.
fn is_valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~'))
}

/// The authorization endpoint's decision.
/// `signed_in`: the browser's user and plexid session, whose sign-out ends what this grants.
pub async fn authorize(
    app: &AppState,
    signed_in: Option<(&Principal, uuid::Uuid)>,
    req: &AuthorizeRequest,
    client_ip: &str,
) -> Result<Authorized, ServiceError> {
    let Some(client) = client(app, &req.client_id).await? else {
        return Ok(Authorized::Invalid("The client identifier is unknown.".into()));
    };
    if !client.provider.redirect_uris().iter().any(|uri| uri == &req.redirect_uri) {
        return Ok(Authorized::Invalid(
            "The redirect URI is not registered for this application (plexid compares redirect URIs exactly).".into(),
        ));
    }
    if req.response_type != "code" {
        return Ok(error_redirect(
            req,
            "unsupported_response_type",
            "Only the authorization code flow (response_type=code) is supported.",
        ));
    }
    match (req.code_challenge.as_deref(), req.code_challenge_method.as_deref()) {
        (Some(_), Some("S256")) => {}
        (Some(_), _) => return Ok(error_redirect(req, "invalid_request", "code_challenge_method must be S256.")),
        (None, _) if client.provider.settings.client_type == ClientType::Public => {
            return Ok(error_redirect(
                req,
                "invalid_request",
                "Public clients must use PKCE (code_challenge with S256).",
            ))
        }
        (None, _) => {}
    }
    let Some((principal, session)) = signed_in else {
        let flow = match client.provider.authentication_flow {
            Some(id) => app.store.read().flow_by_id(id).await?.map(|f| f.slug),
            None => None,
        };
        return Ok(Authorized::SignIn { flow_slug: flow.unwrap_or_else(|| "default-source-authentication".into()) });
    };
    if let Err(reason) = applications::user_access(app, principal.user, &client.application).await? {
        applications::record_refusal(app, principal.user, &client.application, reason, client_ip).await?;
        return Ok(Authorized::Denied { application: client.application.name.clone(), reason });
    }
    let now = app.clock.now();
    let validity = plexid_core::apps::parse_validity(&client.provider.settings.access_code_validity)
        .unwrap_or(jiff::SignedDuration::from_mins(1));
    let code = generate_key();
    let record = OAuthCode {
        code_hash: hash_token(&code),
        provider: client.provider.id,
        user: principal.user,
        redirect_uri: req.redirect_uri.clone(),
        scope: req.scope.clone(),
        nonce: req.nonce.clone(),
        code_challenge: req.code_challenge.clone(),
        auth_time: now,
        expires: plexid_core::time::later(now, validity),
        used: false,
        session: Some(session),
    };
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    conn.insert_oauth_code(&record).await?;
    let mut event = NewEvent::new(EventAction::AuthorizeApplication, APP)
        .client_ip(client_ip)
        .context("authorized_application", json!({"pk": client.application.id.0.to_string(), "slug": client.application.slug, "name": client.application.name}))
        .context("scopes", req.scope.as_str())
        .model("authentik_core", "application", client.application.id.0, &client.application.name);
    if let Some(user) = conn.user_by_id(principal.user).await? {
        event = event.user(&user);
    }
    events::record(&mut conn, event, now).await?;
    tx.commit().await?;
    let mut pairs = vec![("code", code.as_str())];
    if let Some(state) = &req.state {
        pairs.push(("state", state));
    }
    Ok(Authorized::Redirect(with_query(&req.redirect_uri, &pairs)))
}

/// Client authentication as the token, introspection and revocation endpoints receive it.
#[derive(Clone, Debug, Default)]
pub struct ClientAuth {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// The client these credentials prove (a public client proves itself by its id alone).
pub async fn authenticate_client(app: &AppState, auth: &ClientAuth) -> OAuthResult<Client> {
    let client_id = auth.client_id.as_deref().ok_or_else(OAuthError::invalid_client)?;
    let client = client(app, client_id).await?.ok_or_else(OAuthError::invalid_client)?;
    if client.provider.kind != ProviderKind::OAuth2 {
        return Err(OAuthError::invalid_client());
    }
    let p = &client.provider;
    let secret_ok = match auth.client_secret.as_deref() {
        Some(secret) => !p.client_secret_hash.is_empty() && hash_token(secret) == p.client_secret_hash,
        None => p.settings.client_type == ClientType::Public,
    };
    if secret_ok {
        Ok(client)
    } else {
        Err(OAuthError::invalid_client())
    }
}

/// The parameters of a token request.
#[derive(Clone, Debug, Default)]
pub struct TokenRequest {
    pub grant_type: String,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
}

/// Exchanges an authorization code once. A second use of a code revokes every token it issued
/// (RFC 6749 §4.1.2). Checks the redirect URI, PKCE and, once more, the user's access.
pub async fn consume_code(
    app: &AppState,
    client: &Client,
    code: &str,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
) -> OAuthResult<OAuthCode> {
    let now = app.clock.now();
    let code_hash = hash_token(code);
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    let Some(record) = conn.oauth_code_for_update(&code_hash).await? else {
        return Err(OAuthError::invalid_grant("The authorization code is invalid."));
    };
    if record.used {
        let revoked = conn.delete_oauth_tokens_of_code(&code_hash).await?;
        tx.commit().await?;
        tracing::warn!(revoked, "an authorization code was used twice; its tokens are revoked");
        return Err(OAuthError::invalid_grant("The authorization code was already used."));
    }
    if record.provider != client.provider.id || record.expires <= now {
        return Err(OAuthError::invalid_grant("The authorization code is invalid or expired."));
    }
    if redirect_uri.is_some_and(|uri| uri != record.redirect_uri)
        || (redirect_uri.is_none() && client.provider.kind == ProviderKind::OAuth2)
    {
        return Err(OAuthError::invalid_grant("The redirect URI does not match the authorization request."));
    }
    match (&record.code_challenge, verifier) {
        (Some(challenge), Some(v)) if is_valid_verifier(v) && pkce_matches(v, challenge) => {}
        (Some(_), _) => return Err(OAuthError::invalid_grant("The PKCE code verifier is missing or wrong.")),
        (None, Some(_)) => return Err(OAuthError::invalid_grant("No PKCE challenge was sent with this code.")),
        (None, None) => {}
    }
    conn.mark_oauth_code_used(&code_hash).await?;
    tx.commit().await?;
    if applications::user_access(app, record.user, &client.application).await?.is_err() {
        return Err(OAuthError::invalid_grant("The user may no longer use this application."));
    }
    Ok(record)
}

/// The token endpoint.
pub async fn token(app: &AppState, base: &str, auth: &ClientAuth, req: &TokenRequest) -> OAuthResult<Value> {
    let client = authenticate_client(app, auth).await?;
    match req.grant_type.as_str() {
        "authorization_code" => {
            let code = req.code.as_deref().ok_or_else(|| OAuthError::new("invalid_request", "code is required."))?;
            let record =
                consume_code(app, &client, code, req.redirect_uri.as_deref(), req.code_verifier.as_deref()).await?;
            let grant = Grant {
                user: record.user,
                scope: record.scope,
                nonce: record.nonce,
                auth_time: record.auth_time,
                code_hash: record.code_hash,
                session: record.session,
            };
            issue(app, base, &client, &grant).await
        }
        "refresh_token" => {
            let presented = req
                .refresh_token
                .as_deref()
                .ok_or_else(|| OAuthError::new("invalid_request", "refresh_token is required."))?;
            let grant = rotate_refresh(app, &client, presented).await?;
            issue(app, base, &client, &grant).await
        }
        _ => Err(OAuthError::new("unsupported_grant_type", "Only authorization_code and refresh_token are supported.")),
    }
}

/// What a set of tokens is issued for.
struct Grant {
    user: UserId,
    scope: String,
    nonce: Option<String>,
    auth_time: Timestamp,
    /// The token family: every token issued from one code shares it.
    code_hash: String,
    session: Option<uuid::Uuid>,
}

/// Takes a refresh token (it can be used once: the answer carries its successor). A refresh
/// token used a second time revokes its whole family (every token issued from the same code,
/// the successors included), as a stolen one would be (RFC 9700 §4.14.2).
async fn rotate_refresh(app: &AppState, client: &Client, presented: &str) -> OAuthResult<Grant> {
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    let token = conn.oauth_token_for_update(&hash_token(presented)).await?;
    let Some(token) = token.filter(|t| t.kind == "refresh" && t.provider == client.provider.id) else {
        return Err(OAuthError::invalid_grant("The refresh token is invalid."));
    };
    if token.spent {
        let revoked = conn.delete_oauth_tokens_of_code(&token.code_hash).await?;
        tx.commit().await?;
        tracing::warn!(revoked, "a refresh token was used twice; its whole family is revoked");
        return Err(OAuthError::invalid_grant("The refresh token was already used."));
    }
    conn.mark_oauth_token_spent(&token.token_hash).await?;
    if token.expires <= now {
        tx.commit().await?;
        return Err(OAuthError::invalid_grant("The refresh token has expired."));
    }
    tx.commit().await?;
    if applications::user_access(app, token.user, &client.application).await?.is_err() {
        let mut tx = app.store.begin().await?;
        tx.conn().revoke_provider_grants(token.user, client.provider.id).await?;
        tx.commit().await?;
        return Err(OAuthError::invalid_grant("The user may no longer use this application."));
    }
    Ok(Grant {
        user: token.user,
        scope: token.scope,
        nonce: None,
        auth_time: token.auth_time,
        code_hash: token.code_hash,
        session: token.session,
    })
}

fn validity(text: &str, default: jiff::SignedDuration) -> jiff::SignedDuration {
    plexid_core::apps::parse_validity(text).unwrap_or(default)
}

/// Issues an access token, a refresh token and (for `openid`) an ID token.
async fn issue(app: &AppState, base: &str, client: &Client, grant: &Grant) -> OAuthResult<Value> {
    let now = app.clock.now();
    let settings = &client.provider.settings;
    let access_life = validity(&settings.access_token_validity, jiff::SignedDuration::from_hours(1));
    let refresh_life = validity(&settings.refresh_token_validity, jiff::SignedDuration::from_hours(24 * 30));
    let access = generate_key();
    let refresh = generate_key();
    let token = |value: &str, kind: &str, life| OAuthToken {
        token_hash: hash_token(value),
        kind: kind.into(),
        provider: client.provider.id,
        user: grant.user,
        code_hash: grant.code_hash.clone(),
        scope: grant.scope.clone(),
        auth_time: grant.auth_time,
        created: now,
        expires: plexid_core::time::later(now, life),
        spent: false,
        session: grant.session,
    };
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    conn.insert_oauth_token(&token(&access, "access", access_life)).await?;
    conn.insert_oauth_token(&token(&refresh, "refresh", refresh_life)).await?;
    tx.commit().await?;
    let mut answer = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": access_life.as_secs(),
        "refresh_token": refresh,
        "scope": grant.scope,
    });
    if has_scope(&grant.scope, "openid") {
        let id_token = id_token(app, base, client, grant, &access, now, access_life).await?;
        answer["id_token"] = Value::String(id_token);
    }
    Ok(answer)
}

fn has_scope(scope: &str, wanted: &str) -> bool {
    scope.split_whitespace().any(|s| s == wanted)
}

/// The issuer of a provider's tokens.
pub fn issuer(base: &str, provider: &Provider, application: &Application) -> String {
    let base = base.trim_end_matches('/');
    match provider.settings.issuer_mode {
        IssuerMode::PerProvider => format!("{base}/application/o/{}/", application.slug),
        IssuerMode::Global => format!("{base}/"),
    }
}

async fn id_token(
    app: &AppState,
    base: &str,
    client: &Client,
    grant: &Grant,
    access_token: &str,
    now: Timestamp,
    life: jiff::SignedDuration,
) -> OAuthResult<String> {
    let key = keys::current(app, client.provider.settings.signing_alg).await?;
    let digest = Sha256::digest(access_token.as_bytes());
    let mut claims = Map::new();
    claims.insert("iss".into(), issuer(base, &client.provider, &client.application).into());
    claims.insert("aud".into(), client.provider.client_id.clone().into());
    claims.insert("exp".into(), plexid_core::time::later(now, life).as_second().into());
    claims.insert("iat".into(), now.as_second().into());
    claims.insert("auth_time".into(), grant.auth_time.as_second().into());
    claims.insert("acr".into(), ACR.into());
    claims.insert("at_hash".into(), B64URL.encode(&digest[..16]).into());
    if let Some(nonce) = &grant.nonce {
        claims.insert("nonce".into(), nonce.clone().into());
    }
    let user_claims = user_claims(app, client, grant.user, &grant.scope).await?;
    if client.provider.settings.include_claims_in_id_token {
        for (k, v) in user_claims {
            claims.entry(k).or_insert(v);
        }
    } else {
        claims.insert("sub".into(), user_claims.get("sub").cloned().unwrap_or(Value::Null));
    }
    Ok(keys::sign(&key, &claims)?)
}

/// Does `hint` (an `id_token_hint`) name `user` at this application: an ID token plexid signed
/// for it, whose subject is that user's?
pub async fn hint_names(
    app: &AppState,
    base: &str,
    client: &Client,
    hint: &str,
    user: UserId,
) -> Result<bool, ServiceError> {
    let issuer = issuer(base, &client.provider, &client.application);
    let Some(claims) = keys::verify_own_id_token(app, hint, &issuer, &client.provider.client_id).await? else {
        return Ok(false);
    };
    let Some(user) = app.store.read().user_by_id(user).await? else { return Ok(false) };
    Ok(claims.get("sub").and_then(Value::as_str) == Some(subject(app, &client.provider, &user).as_str()))
}

/// The subject identifier of a user at a provider.
pub fn subject(app: &AppState, provider: &Provider, user: &User) -> String {
    match provider.settings.sub_mode {
        SubMode::HashedUserId => app.secrets.subject(provider.id.0, &user.uuid.to_string()),
        SubMode::UserId => user.id.to_string(),
        SubMode::UserUuid => user.uuid.to_string(),
        SubMode::UserUsername => user.username.clone(),
        SubMode::UserEmail => user.email.clone(),
        SubMode::UserUpn => {
            user.attributes.get("upn").and_then(Value::as_str).map_or_else(|| user.uuid.to_string(), str::to_owned)
        }
    }
}

/// The Plex relationships, as claim and header values: `owner`, `home`, `friend`, `server_member`.
pub fn relationship_names(relationships: &[&Relationship]) -> Vec<&'static str> {
    let mut names = Vec::new();
    let any = |f: fn(&Relationship) -> bool| relationships.iter().any(|r| f(r));
    if any(|r| r.owner) {
        names.push("owner");
    }
    if any(|r| r.home) {
        names.push("home");
    }
    if any(|r| r.friend) {
        names.push("friend");
    }
    if any(|r| !r.servers.is_empty()) {
        names.push("server_member");
    }
    names
}

/// Who a user is, for claims and forward-auth headers.
#[derive(Clone, Debug)]
pub struct Identity {
    pub user: User,
    pub groups: Vec<String>,
    pub plex_id: Option<String>,
    pub relationships: Vec<&'static str>,
    /// plex.tv confirmed the user's email address.
    pub email_verified: bool,
}

/// Who a user is, as `application` is told (its source's Plex id and relationships, D26).
pub async fn identity(
    app: &AppState,
    user: UserId,
    application: &Application,
) -> Result<Option<Identity>, ServiceError> {
    identity_with(app, user, application, false).await
}

/// Who a user is, if `application` admits them now: the forward-auth check's one pass over the
/// user's rows (the user, their live connections, their groups).
pub async fn identity_if_admitted(
    app: &AppState,
    user: UserId,
    application: &Application,
) -> Result<Option<Identity>, ServiceError> {
    identity_with(app, user, application, true).await
}

async fn identity_with(
    app: &AppState,
    user: UserId,
    application: &Application,
    admitted_only: bool,
) -> Result<Option<Identity>, ServiceError> {
    let mut conn = app.store.read();
    let with_groups = admitted_only && !application.access.groups.is_empty();
    let Some(subject) = applications::Subject::load(&mut conn, user, with_groups).await? else { return Ok(None) };
    if admitted_only && subject.decide(application).is_err() {
        return Ok(None);
    }
    let groups = conn.memberships_of_users(&[subject.user.id]).await?.into_iter().map(|m| m.group.name).collect();
    let (plex_id, relationships) = subject.plex_for(Some(application));
    let relationships = relationship_names(&relationships);
    let email_verified = subject.email_verified();
    Ok(Some(Identity { user: subject.user, groups, plex_id, relationships, email_verified }))
}

/// The claims about a user that the scope allows (authentik's default scope mappings: `email`
/// gives the address, `profile` the names and groups; plexid adds the Plex id and relationship
/// to `profile`).
async fn user_claims(app: &AppState, client: &Client, user: UserId, scope: &str) -> OAuthResult<Map<String, Value>> {
    let provider = &client.provider;
    let Some(who) = identity(app, user, &client.application).await? else {
        return Err(OAuthError::invalid_grant("The user no longer exists."));
    };
    let mut claims = Map::new();
    claims.insert("sub".into(), subject(app, provider, &who.user).into());
    if has_scope(scope, "email") {
        claims.insert("email".into(), who.user.email.clone().into());
        claims.insert("email_verified".into(), who.email_verified.into());
    }
    if has_scope(scope, "profile") {
        claims.insert("name".into(), who.user.name.clone().into());
        claims.insert("given_name".into(), who.user.name.clone().into());
        claims.insert("preferred_username".into(), who.user.username.clone().into());
        claims.insert("nickname".into(), who.user.username.clone().into());
        claims.insert("groups".into(), who.groups.clone().into());
        claims.insert("plex_id".into(), who.plex_id.clone().map_or(Value::Null, Value::String));
        claims.insert("plex_relationship".into(), who.relationships.clone().into());
    }
    Ok(claims)
}

/// A live access token and the client it was issued to, checked against the access rule.
async fn live_access_token(app: &AppState, presented: &str) -> OAuthResult<Option<(OAuthToken, Client)>> {
    let now = app.clock.now();
    let Some(token) = app.store.read().oauth_token(&hash_token(presented)).await? else { return Ok(None) };
    if token.expires <= now || token.spent {
        return Ok(None);
    }
    let row = app.store.read().provider_by_id(token.provider).await?;
    let Some(provider) = row.map(|r| r.provider) else { return Ok(None) };
    let Some(application) = app.store.read().application_of_provider(provider.id).await? else { return Ok(None) };
    if applications::user_access(app, token.user, &application).await?.is_err() {
        return Ok(None);
    }
    Ok(Some((token, Client { provider, application })))
}

/// The userinfo endpoint: the claims of the access token's user, or `None` (401).
pub async fn userinfo(app: &AppState, presented: &str) -> OAuthResult<Option<Map<String, Value>>> {
    let Some((token, client)) = live_access_token(app, presented).await? else { return Ok(None) };
    if token.kind != "access" {
        return Ok(None);
    }
    Ok(Some(user_claims(app, &client, token.user, &token.scope).await?))
}

/// RFC 7662 introspection, for the client the token was issued to.
pub async fn introspect(app: &AppState, auth: &ClientAuth, presented: &str) -> OAuthResult<Value> {
    let client = authenticate_client(app, auth).await?;
    let found = live_access_token(app, presented).await?.filter(|(t, _)| t.provider == client.provider.id);
    let Some((token, _)) = found else { return Ok(json!({"active": false})) };
    let user = app.store.read().user_by_id(token.user).await?;
    let Some(user) = user else { return Ok(json!({"active": false})) };
    Ok(json!({
        "active": true,
        "scope": token.scope,
        "client_id": client.provider.client_id,
        "username": user.username,
        "sub": subject(app, &client.provider, &user),
        "token_type": if token.kind == "access" { "Bearer" } else { "refresh_token" },
        "exp": token.expires.as_second(),
        "iat": token.created.as_second(),
    }))
}

/// RFC 7009 revocation: the token ends if it belongs to this client; the answer is the same
/// either way. A refresh token takes its family with it, the access tokens issued from the same
/// grant included (RFC 7009 §2.1).
pub async fn revoke(app: &AppState, auth: &ClientAuth, presented: &str) -> OAuthResult<()> {
    let client = authenticate_client(app, auth).await?;
    let hash = hash_token(presented);
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    match conn.oauth_token_for_update(&hash).await?.filter(|t| t.provider == client.provider.id) {
        Some(token) if token.kind == "refresh" => {
            conn.delete_oauth_tokens_of_code(&token.code_hash).await?;
        }
        Some(_) => {
            conn.delete_oauth_token(&hash).await?;
        }
        None => {}
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_is_base64url_of_sha256() {
        let verifier = "plexid-test-verifier-0123456789-abcdefghijklmnop";
        assert!(pkce_matches(verifier, "iP6RnwH7rcUcaV_xbsVTkyJDS_BtixifuC96kDzqS7o"));
        assert!(!pkce_matches("another-verifier", "iP6RnwH7rcUcaV_xbsVTkyJDS_BtixifuC96kDzqS7o"));
        assert!(is_valid_verifier(verifier));
        assert!(!is_valid_verifier("short"));
        assert!(!is_valid_verifier(&"a b".repeat(20)));
    }

    #[test]
    fn redirects_keep_the_clients_query() {
        assert_eq!(
            with_query("https://app/cb?x=1", &[("code", "c d"), ("state", "s")]),
            "https://app/cb?x=1&code=c+d&state=s"
        );
    }

    #[test]
    fn relationship_names_are_ordered_and_unique() {
        let r = |owner, friend, servers: &[&str]| Relationship {
            owner,
            home: false,
            friend,
            servers: servers.iter().map(|s| s.to_string()).collect(),
        };
        assert_eq!(relationship_names(&[&r(false, true, &[]), &r(false, true, &["s"])]), ["friend", "server_member"]);
        assert!(relationship_names(&[]).is_empty());
    }
}

/// Where a relying party finds plexid's OpenID Connect endpoints for the application `slug`
/// whose issuer is `issuer` (authentik's `setup_urls`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    pub issuer: String,
    pub authorize: String,
    pub token: String,
    pub user_info: String,
    pub provider_info: String,
    pub logout: String,
    pub jwks: String,
}

pub fn endpoints(base: &str, slug: &str, issuer: String) -> Endpoints {
    let base = base.trim_end_matches('/');
    Endpoints {
        issuer,
        authorize: format!("{base}/application/o/authorize/"),
        token: format!("{base}/application/o/token/"),
        user_info: format!("{base}/application/o/userinfo/"),
        provider_info: format!("{base}/application/o/{slug}/.well-known/openid-configuration"),
        logout: format!("{base}/application/o/{slug}/end-session/"),
        jwks: format!("{base}/application/o/{slug}/jwks/"),
    }
}
