//! `/api/v3/core/tokens/`: API tokens. Keys are stored hashed (and encrypted for `view_key`).

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::response::Response;
use plexid_core::permission::{Action, Model};
use plexid_core::validate::{does_not_exist, is_slug, Text, BAD_SLUG};
use plexid_core::{Body, FieldErrors};
use plexid_store::accounts::{TokenFilter, TokenRecord, TOKEN_ORDERING};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::users::{shape_users, User};
use super::{asc, choice_filter, lookup, paginated_schema, GenericError, ListArgs, ValidationError};
use crate::auth::{Caller, Principal};
use crate::clock::{iso8601, now_micros, parse_iso8601};
use crate::crypto::{generate_key, hash_token};
use crate::error::{ApiError, ApiResult, NO_PERMISSION};
use crate::http::{created, no_content, ok, JsonBody, QueryParams};
use crate::state::AppState;

const MODEL: Model = Model::Token;
const INTENTS: &[&str] = &["verification", "api", "recovery", "app_password"];
/// authentik's default lifetime of an expiring token.
const DEFAULT_LIFETIME_MICROS: i64 = 30 * 60 * 1_000_000;

/// authentik's `Token`.
#[derive(Serialize, ToSchema)]
pub struct Token {
    pub pk: Uuid,
    pub managed: Option<String>,
    pub identifier: String,
    pub intent: String,
    pub user: i64,
    pub user_obj: User,
    pub description: String,
    pub expires: Option<String>,
    pub expiring: bool,
}

/// authentik's `TokenRequest`. Only superusers may create tokens for other users.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TokenRequest {
    identifier: String,
    /// `verification`, `api`, `recovery` or `app_password`; only `api` tokens authenticate API calls.
    intent: Option<String>,
    user: Option<i64>,
    description: Option<String>,
    expires: Option<String>,
    expiring: Option<bool>,
}

/// authentik's `TokenView`.
#[derive(Serialize, ToSchema)]
pub struct TokenView {
    pub key: String,
}

paginated_schema!(PaginatedTokenList, Token);

async fn shape(state: &AppState, tokens: Vec<TokenRecord>) -> ApiResult<Vec<Token>> {
    let mut conn = state.store.conn();
    let mut owner_ids: Vec<i64> = tokens.iter().map(|t| t.user_id).collect();
    owner_ids.sort_unstable();
    owner_ids.dedup();
    let owners = conn.users_by_ids(&owner_ids).await?;
    let users: HashMap<i64, User> = shape_users(&mut conn, owners).await?.into_iter().map(|u| (u.pk, u)).collect();
    let mut shaped = Vec::with_capacity(tokens.len());
    for t in tokens {
        let user_obj = users
            .get(&t.user_id)
            .cloned()
            .ok_or_else(|| ApiError::Internal(format!("token {} has no owner", t.identifier)))?;
        shaped.push(Token {
            pk: t.uuid,
            managed: t.managed,
            identifier: t.identifier,
            intent: t.intent,
            user: t.user_id,
            user_obj,
            description: t.description,
            expires: t.expires.map(iso8601),
            expiring: t.expiring,
        });
    }
    Ok(shaped)
}

/// A token the caller may see: their own, or any with `view_token`.
async fn visible(state: &AppState, caller: &Caller, identifier: &str) -> ApiResult<(TokenRecord, Principal)> {
    let principal = caller.user()?.clone();
    let token = state.store.conn().token_by_identifier(lookup(identifier)?).await?.ok_or(ApiError::NotFound)?;
    if token.user_id != principal.user_id && !caller.can(Action::View, MODEL) {
        return Err(ApiError::NotFound);
    }
    Ok((token, principal))
}

fn require_on(caller: &Caller, principal: &Principal, token: &TokenRecord, action: Action) -> ApiResult<()> {
    if token.user_id == principal.user_id || caller.can(action, MODEL) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(NO_PERMISSION))
    }
}

const FIELD_ORDER: &[&str] = &["identifier", "intent", "user", "description", "expires", "expiring"];

async fn save(
    state: &AppState,
    caller: &Principal,
    body: &Value,
    partial: bool,
    stored: Option<TokenRecord>,
) -> ApiResult<Token> {
    let mut body = Body::new(body, partial)?;
    let is_new = stored.is_none();
    let mut token = match stored {
        Some(token) => token,
        None => {
            let new_key = generate_key();
            TokenRecord {
                identifier: String::new(),
                uuid: Uuid::new_v4(),
                key_hash: hash_token(&new_key),
                key_encrypted: state.secrets.encrypt(&new_key),
                user_id: caller.user_id,
                intent: "api".into(),
                description: String::new(),
                expiring: true,
                expires: None,
                managed: None,
            }
        }
    };
    if let Some(identifier) = body.text("identifier", Text::REQUIRED.max(255)) {
        if is_slug(&identifier) {
            token.identifier = identifier;
        } else {
            body.errors.add("identifier", BAD_SLUG);
        }
    }
    if let Some(intent) = body.choice("intent", INTENTS) {
        token.intent = intent;
    }
    let user = body.integer("user", false);
    if let Some(description) = body.text("description", Text::OPTIONAL_BLANK) {
        token.description = description;
    }
    let expires = body.nullable_text("expires", Text::OPTIONAL);
    if let Some(expiring) = body.boolean("expiring") {
        token.expiring = expiring;
    }
    match expires {
        Some(Some(text)) => match parse_iso8601(&text) {
            Some(at) => token.expires = Some(at),
            None => body.errors.add(
                "expires",
                "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].",
            ),
        },
        Some(None) => token.expires = None,
        None => {}
    }
    if token.expiring && token.expires.is_none() {
        token.expires = Some(now_micros() + DEFAULT_LIFETIME_MICROS);
    }
    let mut errors: FieldErrors = body.errors;
    let mut tx = state.store.begin().await?;
    let mut conn = tx.conn();
    if let Some(user) = user.filter(|u| *u != token.user_id) {
        if !caller.is_superuser {
            return Err(ApiError::Forbidden(NO_PERMISSION));
        }
        if conn.user_by_id(user).await?.is_none() {
            errors.add("user", does_not_exist(user));
        }
        token.user_id = user;
    }
    errors.sort_by(FIELD_ORDER);
    errors.into_result()?;
    if is_new {
        conn.insert_token(&token).await?;
    } else {
        conn.update_token(&token).await?;
    }
    tx.commit().await?;
    shape(state, vec![token]).await?.pop().ok_or(ApiError::NotFound)
}

/// List tokens (your own, or all with `authentik_core.view_token`).
#[utoipa::path(get, path = "/core/tokens/", tag = "core",
    params(("identifier" = Option<String>, Query), ("intent" = Option<String>, Query), ("description" = Option<String>, Query),
        ("managed" = Option<String>, Query), ("user__username" = Option<String>, Query), ("ordering" = Option<String>, Query),
        ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query), ("search" = Option<String>, Query)),
    responses((status = 200, body = PaginatedTokenList), (status = 400, body = ValidationError), (status = 403, body = GenericError)))]
pub async fn list(State(state): State<AppState>, caller: Caller, query: QueryParams) -> ApiResult<Response> {
    let principal = caller.user()?;
    let args = ListArgs::parse(&query, TOKEN_ORDERING, &[asc("expires")])?;
    let mut errors = FieldErrors::default();
    let mut conn = state.store.conn();
    let user = match query.filter("user__username") {
        Some(name) => Some(conn.user_by_username(name).await?.map_or(-1, |u| u.id)),
        None => None,
    };
    let filter = TokenFilter {
        identifier: query.filter("identifier").map(str::to_owned),
        intent: choice_filter(&query, "intent", INTENTS, &mut errors),
        description: query.filter("description").map(str::to_owned),
        managed: query.filter("managed").map(str::to_owned),
        user,
        owner: (!caller.can(Action::View, MODEL)).then_some(principal.user_id),
        search: args.search.clone(),
    };
    errors.into_result()?;
    let listed = conn.list_tokens(&filter, &args.ordering, args.window()).await?;
    let total = listed.total;
    let tokens = shape(&state, listed.rows).await?;
    args.respond_shaped(total, tokens)
}

/// Create a token; its key is shown by `view_key`.
#[utoipa::path(post, path = "/core/tokens/", tag = "core", request_body = TokenRequest,
    responses((status = 201, body = Token), (status = 400, body = ValidationError), (status = 403, body = GenericError)))]
pub async fn create(State(state): State<AppState>, caller: Caller, JsonBody(body): JsonBody) -> ApiResult<Response> {
    let principal = caller.user()?;
    Ok(created(&save(&state, principal, &body, false, None).await?))
}

/// Get a token.
#[utoipa::path(get, path = "/core/tokens/{identifier}/", tag = "core", params(("identifier" = String, Path)),
    responses((status = 200, body = Token), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn retrieve(
    State(state): State<AppState>,
    caller: Caller,
    Path(identifier): Path<String>,
) -> ApiResult<Response> {
    let (token, _) = visible(&state, &caller, &identifier).await?;
    Ok(ok(&shape(&state, vec![token]).await?.pop()))
}

/// PUT (`partial` false) and PATCH (true) of one object.
async fn change(
    state: &AppState,
    caller: &Caller,
    key: &str,
    body: &serde_json::Value,
    partial: bool,
) -> ApiResult<Response> {
    let (token, principal) = visible(state, caller, key).await?;
    require_on(caller, &principal, &token, Action::Change)?;
    Ok(ok(&save(state, &principal, body, partial, Some(token)).await?))
}

/// Replace a token's fields.
#[utoipa::path(put, path = "/core/tokens/{identifier}/", tag = "core", params(("identifier" = String, Path)), request_body = TokenRequest,
    responses((status = 200, body = Token), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(identifier): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    change(&state, &caller, &identifier, &body, false).await
}

/// Change some fields of a token.
#[utoipa::path(patch, path = "/core/tokens/{identifier}/", tag = "core", params(("identifier" = String, Path)), request_body = TokenRequest,
    responses((status = 200, body = Token), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn partial_update(
    State(state): State<AppState>,
    caller: Caller,
    Path(identifier): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    change(&state, &caller, &identifier, &body, true).await
}

/// Delete a token.
#[utoipa::path(delete, path = "/core/tokens/{identifier}/", tag = "core", params(("identifier" = String, Path)),
    responses((status = 204), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn destroy(
    State(state): State<AppState>,
    caller: Caller,
    Path(identifier): Path<String>,
) -> ApiResult<Response> {
    let (token, principal) = visible(&state, &caller, &identifier).await?;
    require_on(&caller, &principal, &token, Action::Delete)?;
    let mut tx = state.store.begin().await?;
    tx.conn().delete_token(token.uuid).await?;
    tx.commit().await?;
    Ok(no_content())
}

/// The token's key, for its owner or a superuser.
#[utoipa::path(get, path = "/core/tokens/{identifier}/view_key/", tag = "core", params(("identifier" = String, Path)),
    responses((status = 200, body = TokenView), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn view_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(identifier): Path<String>,
) -> ApiResult<Response> {
    let (token, principal) = visible(&state, &caller, &identifier).await?;
    if token.user_id != principal.user_id && !principal.is_superuser {
        return Err(ApiError::Forbidden(NO_PERMISSION));
    }
    let key = state.secrets.decrypt(&token.key_encrypted).map_err(|e| ApiError::Internal(e.to_string()))?;
    tracing::info!(identifier = %token.identifier, viewer = principal.user_id, "token key viewed");
    Ok(ok(&TokenView { key }))
}
