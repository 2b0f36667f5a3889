//! `/api/v3/core/tokens/`: API tokens. Keys are stored hashed (and encrypted for `view_key`).

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::response::Response;
use plexid_core::model::{Token as TokenRecord, TokenChanges};
use plexid_core::modes::TokenIntent;
use plexid_core::{FieldErrors, UserId};
use plexid_store::tokens::{TokenFilter, TOKEN_ORDERING};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::drf::{Body, Text};
use super::error::{ApiError, ApiResult};
use super::http::{created, no_content, ok, JsonBody, QueryParams};
use super::users::User;
use super::{asc, choice_filter, lookup, paginated_schema, read_body, GenericError, ListArgs, ValidationError};
use crate::clock::{iso8601, parse_iso8601};
use crate::service::{tokens as service, users, Actor};
use crate::state::AppState;

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

/// Tokens with their owners, the owners read once.
async fn shape(state: &AppState, tokens: Vec<TokenRecord>) -> ApiResult<Vec<Token>> {
    let mut conn = state.store.read();
    let mut owner_ids: Vec<UserId> = tokens.iter().map(|t| t.user).collect();
    owner_ids.sort_unstable();
    owner_ids.dedup();
    let owners = conn.users_by_ids(&owner_ids).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    let owners: HashMap<UserId, User> =
        users::with_groups(&mut conn, owners).await?.into_iter().map(|v| (v.user.id, User::from(v))).collect();
    tokens
        .into_iter()
        .map(|t| {
            let user_obj = owners
                .get(&t.user)
                .cloned()
                .ok_or_else(|| ApiError::Internal(format!("token {} has no owner", t.identifier)))?;
            Ok(Token {
                pk: t.id.0,
                managed: t.managed,
                identifier: t.identifier,
                intent: t.intent.to_string(),
                user: t.user.0,
                user_obj,
                description: t.description,
                expires: t.expires.map(iso8601),
                expiring: t.expiring,
            })
        })
        .collect()
}

async fn shape_one(state: &AppState, token: TokenRecord) -> ApiResult<Token> {
    shape(state, vec![token]).await?.pop().ok_or(ApiError::NotFound)
}

const BAD_DATETIME: &str =
    "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].";

pub(crate) fn read_token(body: &mut Body<'_>) -> TokenChanges {
    let identifier = body.text("identifier", Text::REQUIRED.max(255));
    let intent = body.mode("intent", TokenIntent::NAMES, TokenIntent::parse);
    let user = body.integer("user", false).map(UserId);
    let description = body.text("description", Text::OPTIONAL_BLANK);
    let expires = match body.nullable_text("expires", Text::OPTIONAL) {
        None => None,
        Some(None) => Some(None),
        Some(Some(text)) => match parse_iso8601(&text) {
            Some(at) => Some(Some(at)),
            None => {
                body.errors.add("expires", BAD_DATETIME);
                None
            }
        },
    };
    let expiring = body.boolean("expiring");
    TokenChanges { identifier, intent, user, description, expires, expiring }
}

/// List tokens (your own, or all with `authentik_core.view_token`).
#[utoipa::path(get, path = "/core/tokens/", tag = "core",
    params(("identifier" = Option<String>, Query), ("intent" = Option<String>, Query), ("description" = Option<String>, Query),
        ("managed" = Option<String>, Query), ("user__username" = Option<String>, Query), ("ordering" = Option<String>, Query),
        ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query), ("search" = Option<String>, Query)),
    responses((status = 200, body = PaginatedTokenList), (status = 400, body = ValidationError), (status = 403, body = GenericError)))]
pub async fn list(State(state): State<AppState>, actor: Actor, query: QueryParams) -> ApiResult<Response> {
    actor.require_authenticated()?; // before the query is read
    let args = ListArgs::parse(&query, TOKEN_ORDERING, &[asc("expires")])?;
    let mut errors = FieldErrors::default();
    let user = match query.filter("user__username") {
        Some(name) => Some(service::user_named(&state, name).await?.unwrap_or(UserId(-1))),
        None => None,
    };
    let filter = TokenFilter {
        identifier: query.filter("identifier").map(str::to_owned),
        intent: choice_filter(&query, "intent", TokenIntent::NAMES, &mut errors).and_then(|i| TokenIntent::parse(&i)),
        description: query.filter("description").map(str::to_owned),
        managed: query.filter("managed").map(str::to_owned),
        user,
        owner: None,
        search: args.search.clone(),
    };
    errors.into_result()?;
    let listed = service::list(&state, &actor, filter, &args.ordering, args.window()).await?;
    let total = listed.total;
    args.respond_shaped(total, shape(&state, listed.rows).await?)
}

/// Create a token; its key is shown by `view_key`.
#[utoipa::path(post, path = "/core/tokens/", tag = "core", request_body = TokenRequest,
    responses((status = 201, body = Token), (status = 400, body = ValidationError), (status = 403, body = GenericError)))]
pub async fn create(State(state): State<AppState>, actor: Actor, JsonBody(body): JsonBody) -> ApiResult<Response> {
    let (changes, errors) = read_body(&body, false, read_token);
    let token = service::create(&state, &actor, changes, errors).await?;
    Ok(created(&shape_one(&state, token).await?))
}

/// Get a token.
#[utoipa::path(get, path = "/core/tokens/{identifier}/", tag = "core", params(("identifier" = String, Path)),
    responses((status = 200, body = Token), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn retrieve(
    State(state): State<AppState>,
    actor: Actor,
    Path(identifier): Path<String>,
) -> ApiResult<Response> {
    actor.require_authenticated()?;
    let token = service::get(&state, &actor, lookup(&identifier)?).await?;
    Ok(ok(&shape_one(&state, token).await?))
}

/// PUT (`partial` false) and PATCH (true) of one object.
async fn change(
    state: &AppState,
    actor: &Actor,
    key: &str,
    body: &serde_json::Value,
    partial: bool,
) -> ApiResult<Response> {
    actor.require_authenticated()?;
    let (changes, errors) = read_body(body, partial, read_token);
    let token = service::update(state, actor, lookup(key)?, changes, errors).await?;
    Ok(ok(&shape_one(state, token).await?))
}

/// Replace a token's fields.
#[utoipa::path(put, path = "/core/tokens/{identifier}/", tag = "core", params(("identifier" = String, Path)), request_body = TokenRequest,
    responses((status = 200, body = Token), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn update(
    State(state): State<AppState>,
    actor: Actor,
    Path(identifier): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    change(&state, &actor, &identifier, &body, false).await
}

/// Change some fields of a token.
#[utoipa::path(patch, path = "/core/tokens/{identifier}/", tag = "core", params(("identifier" = String, Path)), request_body = TokenRequest,
    responses((status = 200, body = Token), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn partial_update(
    State(state): State<AppState>,
    actor: Actor,
    Path(identifier): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    change(&state, &actor, &identifier, &body, true).await
}

/// Delete a token.
#[utoipa::path(delete, path = "/core/tokens/{identifier}/", tag = "core", params(("identifier" = String, Path)),
    responses((status = 204), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn destroy(
    State(state): State<AppState>,
    actor: Actor,
    Path(identifier): Path<String>,
) -> ApiResult<Response> {
    actor.require_authenticated()?;
    service::delete(&state, &actor, lookup(&identifier)?).await?;
    Ok(no_content())
}

/// The token's key, for its owner or a superuser.
#[utoipa::path(get, path = "/core/tokens/{identifier}/view_key/", tag = "core", params(("identifier" = String, Path)),
    responses((status = 200, body = TokenView), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn view_key(
    State(state): State<AppState>,
    actor: Actor,
    Path(identifier): Path<String>,
) -> ApiResult<Response> {
    actor.require_authenticated()?;
    let key = service::view_key(&state, &actor, lookup(&identifier)?).await?;
    Ok(ok(&TokenView { key }))
}
