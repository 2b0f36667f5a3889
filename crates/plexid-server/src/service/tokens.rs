//! API tokens: issuing them (the one place a key is made), editing, revoking, and finding who a
//! key belongs to.

use plexid_core::model::{Token, TokenChanges};
use plexid_core::modes::TokenIntent;
use plexid_core::permission::{Action, Model};
use plexid_core::{rules, FieldErrors, Permission, Timestamp, TokenId, UserId};
use plexid_store::listing::{Listed, OrderTerm, Window};
use plexid_store::tokens::TokenFilter;
use plexid_store::{Conn, ReadWrite};

use super::{check, Actor, AppState, Principal, ServiceError, ServiceResult};
use crate::crypto::{generate_key, hash_token, Secrets};

const fn perm(action: Action) -> Permission {
    Permission::new(action, Model::Token)
}

/// Seeing every user's tokens.
pub const VIEW: Permission = perm(Action::View);

/// authentik's default lifetime of an expiring token.
const DEFAULT_LIFETIME: jiff::SignedDuration = jiff::SignedDuration::from_mins(30);

pub const FIELD_ORDER: &[&str] = &["identifier", "intent", "user", "description", "expires", "expiring"];

/// What a new token is.
#[derive(Clone, Debug)]
pub struct NewToken {
    pub identifier: String,
    pub user: UserId,
    pub intent: TokenIntent,
    pub description: String,
    pub expiring: bool,
    pub expires: Option<Timestamp>,
    pub managed: Option<String>,
    /// The key to use (the bootstrap token); otherwise a random one is made.
    pub key: Option<String>,
}

impl NewToken {
    /// A non-expiring API token for `user`.
    pub fn api(identifier: impl Into<String>, user: UserId, description: impl Into<String>) -> Self {
        NewToken {
            identifier: identifier.into(),
            user,
            intent: TokenIntent::Api,
            description: description.into(),
            expiring: false,
            expires: None,
            managed: None,
            key: None,
        }
    }
}

/// The record of a new token and its key (the key itself is stored only hashed and encrypted).
fn mint(secrets: &Secrets, spec: NewToken) -> (Token, String) {
    let key = spec.key.unwrap_or_else(generate_key);
    let token = Token {
        id: TokenId::random(),
        identifier: spec.identifier,
        key_hash: hash_token(&key),
        key_encrypted: secrets.encrypt(&key),
        user: spec.user,
        intent: spec.intent,
        description: spec.description,
        expiring: spec.expiring,
        expires: spec.expires,
        managed: spec.managed,
    };
    (token, key)
}

/// Issues a token in the caller's transaction; returns it and its key (show the key once).
/// `replace` replaces a token with the same identifier or key (the bootstrap token).
pub async fn issue(
    conn: &mut Conn<'_, ReadWrite>,
    secrets: &Secrets,
    spec: NewToken,
    replace: bool,
) -> ServiceResult<(Token, String)> {
    let (token, key) = mint(secrets, spec);
    if replace {
        conn.upsert_token(&token).await?;
    } else {
        conn.insert_token(&token).await?;
    }
    Ok((token, key))
}

/// The principal an API key authenticates, if the key is a valid, unexpired API token of an
/// active user.
pub async fn authenticate(app: &AppState, key: &str) -> ServiceResult<Option<Principal>> {
    let key_hash = hash_token(key);
    let now = app.clock.now();
    let generation = app.store.auth_generation();
    if let Some((principal, expires)) = app.auth_cache.tokens.get(&key_hash, generation) {
        return Ok(expires.is_none_or(|at| at > now).then_some(principal));
    }
    let mut conn = app.store.read();
    let Some(owner) = conn.token_owner(&key_hash).await? else {
        return Ok(None);
    };
    let expires = if owner.expiring { owner.expires } else { None };
    if expires.is_some_and(|at| at <= now) || !owner.user_active || owner.intent != TokenIntent::Api {
        return Ok(None);
    }
    let principal = Principal::load(&mut conn, owner.user, owner.username, owner.is_superuser).await?;
    app.auth_cache.tokens.put(&key_hash, generation, (principal.clone(), expires));
    Ok(Some(principal))
}

/// Applies `changes`, checking the identifier and that only superusers give tokens to others.
async fn apply(
    conn: &mut Conn<'_, ReadWrite>,
    actor: &Actor,
    mut token: Token,
    c: TokenChanges,
    now: Timestamp,
    errors: &mut FieldErrors,
) -> ServiceResult<Token> {
    if let Some(identifier) = c.identifier {
        if !rules::is_slug(&identifier) {
            errors.add("identifier", rules::BAD_SLUG);
        }
        token.identifier = identifier;
    }
    macro_rules! take {
        ($($field:ident),*) => {$( if let Some(v) = c.$field { token.$field = v; } )*};
    }
    take!(intent, description, expires, expiring);
    if token.expiring && token.expires.is_none() {
        token.expires = Some(plexid_core::time::later(now, DEFAULT_LIFETIME));
    }
    if let Some(user) = c.user.filter(|u| *u != token.user) {
        if !actor.is_superuser() {
            return Err(ServiceError::Forbidden);
        }
        if conn.user_by_id(user).await?.is_none() {
            errors.add("user", plexid_core::errors::does_not_exist(user));
        }
        token.user = user;
    }
    Ok(token)
}

/// The id of the user with this username (the `user__username` filter).
pub async fn user_named(app: &AppState, username: &str) -> ServiceResult<Option<UserId>> {
    Ok(app.store.read().user_by_username(username).await?.map(|u| u.id))
}

pub async fn list(
    app: &AppState,
    actor: &Actor,
    filter: TokenFilter,
    ordering: &[OrderTerm],
    window: Window,
) -> ServiceResult<Listed<Token>> {
    let principal = actor.principal()?;
    let filter = TokenFilter { owner: (!actor.can(perm(Action::View))).then_some(principal.user), ..filter };
    Ok(app.store.read().list_tokens(&filter, ordering, window).await?)
}

/// A token the actor may see: their own, or any with `view_token`.
pub async fn get(app: &AppState, actor: &Actor, identifier: &str) -> ServiceResult<Token> {
    actor.require_authenticated()?;
    let token = app.store.read().token_by_identifier(identifier).await?.ok_or(ServiceError::NotFound)?;
    if !actor.is_user(token.user) && !actor.can(perm(Action::View)) {
        return Err(ServiceError::NotFound);
    }
    Ok(token)
}

fn require_on(actor: &Actor, token: &Token, action: Action) -> ServiceResult<()> {
    if actor.is_user(token.user) || actor.can(perm(action)) {
        Ok(())
    } else {
        Err(ServiceError::Forbidden)
    }
}

/// Creates a token for the actor (or, for a superuser, for the user named in `changes`).
pub async fn create(
    app: &AppState,
    actor: &Actor,
    changes: TokenChanges,
    mut errors: FieldErrors,
) -> ServiceResult<Token> {
    let principal = actor.principal()?;
    let now = app.clock.now();
    let spec = NewToken {
        expiring: true,
        intent: TokenIntent::Api,
        ..NewToken::api(String::new(), principal.user, String::new())
    };
    let (blank, _) = mint(&app.secrets, spec);
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    let token = apply(&mut conn, actor, blank, changes, now, &mut errors).await?;
    check(errors, FIELD_ORDER)?;
    conn.insert_token(&token).await?;
    super::audit::created(&mut conn, actor, now, &token).await?;
    tx.commit().await?;
    Ok(token)
}

pub async fn update(
    app: &AppState,
    actor: &Actor,
    identifier: &str,
    changes: TokenChanges,
    mut errors: FieldErrors,
) -> ServiceResult<Token> {
    let token = get(app, actor, identifier).await?;
    require_on(actor, &token, Action::Change)?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    let before = conn.token_for_update(identifier).await?.ok_or(ServiceError::NotFound)?;
    if !actor.is_user(before.user) {
        super::users::guard_target(&mut conn, actor, before.user).await?;
    }
    let after = apply(&mut conn, actor, before.clone(), changes, now, &mut errors).await?;
    check(errors, FIELD_ORDER)?;
    conn.update_token(&before, &after).await?;
    super::audit::updated(&mut conn, actor, now, &before, &after).await?;
    tx.commit().await?;
    Ok(after)
}

pub async fn delete(app: &AppState, actor: &Actor, identifier: &str) -> ServiceResult<()> {
    let token = get(app, actor, identifier).await?;
    require_on(actor, &token, Action::Delete)?;
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    if !actor.is_user(token.user) {
        // A superuser's tokens (the bootstrap token among them) only by a superuser.
        super::users::guard_target(&mut conn, actor, token.user).await?;
    }
    conn.delete_token(token.id).await?;
    super::audit::deleted(&mut conn, actor, app.clock.now(), &token).await?;
    tx.commit().await?;
    Ok(())
}

/// The token's key, for its owner or a superuser. Each view is logged.
pub async fn view_key(app: &AppState, actor: &Actor, identifier: &str) -> ServiceResult<String> {
    let token = get(app, actor, identifier).await?;
    if !actor.is_user(token.user) && !actor.is_superuser() {
        return Err(ServiceError::Forbidden);
    }
    let key = app.secrets.decrypt(&token.key_encrypted).map_err(|e| ServiceError::Internal(e.to_string()))?;
    let viewer = actor.principal().map(|p| p.user.0).unwrap_or_default();
    tracing::info!(identifier = %token.identifier, viewer, "token key viewed");
    Ok(key)
}
