//! `/api/v3/core/users/`: the users Plex sources sign in (the fields the source touches).

use axum::extract::{Path, State};
use axum::response::Response;
use plexid_core::model::{User as UserRecord, UserChanges};
use plexid_core::modes::UserType;
use plexid_core::rules::USERNAME_MAX_LENGTH;
use plexid_core::{FieldErrors, GroupId, Permission, UserId};
use plexid_store::groups::Membership;
use plexid_store::users::{UserFilter, USER_ORDERING};
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use super::drf::query::bool_filter;
use super::drf::{Body, Text};
use super::error::{ApiError, ApiResult};
use super::http::{created, no_content, ok, JsonBody, QueryParams};
use super::{asc, lookup, paginated_schema, read_body, uuid_filter, GenericError, ListArgs, UsedBy, ValidationError};
use crate::clock::{iso8601, parse_iso8601};
use crate::service::users::{self as service, UserInput, UserView};
use crate::service::Actor;
use crate::state::AppState;

const AVATAR: &str = "/static/dist/assets/images/user_default.png";

/// A group as nested in a user (authentik's `UserGroup`).
#[derive(Serialize, ToSchema, Clone)]
pub struct UserGroup {
    pub pk: Uuid,
    pub num_pk: i64,
    pub name: String,
    pub is_superuser: bool,
    pub parent: Option<Uuid>,
    pub parent_name: Option<String>,
    pub attributes: Map<String, Value>,
}

/// authentik's `User`.
#[derive(Serialize, ToSchema, Clone)]
pub struct User {
    pub pk: i64,
    pub username: String,
    pub name: String,
    pub is_active: bool,
    pub last_login: Option<String>,
    pub is_superuser: bool,
    pub groups: Vec<Uuid>,
    pub groups_obj: Vec<UserGroup>,
    pub email: String,
    pub avatar: &'static str,
    pub attributes: Map<String, Value>,
    pub uid: String,
    pub path: String,
    #[serde(rename = "type")]
    #[schema(rename = "type")]
    pub user_type: String,
    pub uuid: Uuid,
}

/// authentik's `UserRequest`. Passwords are set with `set_password`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UserRequest {
    username: String,
    name: String,
    is_active: Option<bool>,
    last_login: Option<String>,
    groups: Option<Vec<Uuid>>,
    email: Option<String>,
    attributes: Option<Map<String, Value>>,
    path: Option<String>,
    #[schema(rename = "type")]
    user_type: Option<String>,
}

/// `GET /core/users/me/`: the caller (authentik's `SessionUser` with a `UserSelf`).
#[derive(Serialize, ToSchema)]
pub struct SessionUser {
    pub user: UserSelf,
}

#[derive(Serialize, ToSchema)]
pub struct UserSelf {
    pub pk: i64,
    pub username: String,
    pub name: String,
    pub is_active: bool,
    pub is_superuser: bool,
    pub groups: Vec<UserSelfGroup>,
    pub email: String,
    pub avatar: &'static str,
    pub uid: String,
    pub settings: Map<String, Value>,
    #[serde(rename = "type")]
    #[schema(rename = "type")]
    pub user_type: String,
    pub system_permissions: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct UserSelfGroup {
    pub name: String,
    pub pk: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UserPasswordSetRequest {
    password: String,
}

paginated_schema!(PaginatedUserList, User);

/// An opaque, stable id for a user (authentik's `uid`).
pub fn uid(user: &UserRecord) -> String {
    hex::encode(Sha256::digest(user.uuid.as_bytes()))
}

/// authentik's numeric id of a group (31 bits of the uuid).
pub fn num_pk(group: GroupId) -> i64 {
    (group.0.as_u128() >> 97) as i64
}

fn user_group(m: Membership) -> UserGroup {
    UserGroup {
        pk: m.group.id.0,
        num_pk: num_pk(m.group.id),
        name: m.group.name,
        is_superuser: m.group.is_superuser,
        parent: m.group.parent.map(|p| p.0),
        parent_name: m.parent_name,
        attributes: m.group.attributes,
    }
}

impl From<UserView> for User {
    fn from(view: UserView) -> Self {
        let is_superuser = view.is_superuser();
        let u = view.user;
        let groups_obj: Vec<UserGroup> = view.groups.into_iter().map(user_group).collect();
        User {
            pk: u.id.0,
            is_superuser,
            groups: groups_obj.iter().map(|g| g.pk).collect(),
            groups_obj,
            uid: uid(&u),
            username: u.username,
            name: u.name,
            is_active: u.is_active,
            last_login: u.last_login.map(iso8601),
            email: u.email,
            avatar: AVATAR,
            attributes: u.attributes,
            path: u.path,
            user_type: u.user_type.to_string(),
            uuid: u.uuid,
        }
    }
}

const BAD_DATETIME: &str =
    "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].";

fn read_user(body: &mut Body<'_>) -> UserInput {
    let username = body.text("username", Text::REQUIRED.max(USERNAME_MAX_LENGTH));
    let name = body.text("name", Text { required: true, ..Text::OPTIONAL_BLANK });
    let is_active = body.boolean("is_active");
    let last_login = match body.nullable_text("last_login", Text::OPTIONAL) {
        None => None,
        Some(None) => Some(None),
        Some(Some(text)) => match parse_iso8601(&text) {
            Some(at) => Some(Some(at)),
            None => {
                body.errors.add("last_login", BAD_DATETIME);
                None
            }
        },
    };
    let groups = body.uuid_list("groups").map(|ids| ids.into_iter().map(GroupId).collect());
    let changes = UserChanges {
        username,
        name,
        is_active,
        last_login,
        email: body.text("email", Text::OPTIONAL_BLANK.max(254)),
        attributes: body.object("attributes"),
        path: body.text("path", Text::OPTIONAL),
        user_type: body.mode("type", UserType::NAMES, UserType::parse),
    };
    UserInput { changes, groups }
}

fn user_id(id: &str) -> ApiResult<UserId> {
    lookup(id)?.parse().map_err(|_| ApiError::NotFound)
}

/// List users.
#[utoipa::path(get, path = "/core/users/", tag = "core",
    params(("username" = Option<String>, Query), ("email" = Option<String>, Query), ("name" = Option<String>, Query),
        ("is_active" = Option<bool>, Query), ("path" = Option<String>, Query), ("uuid" = Option<Uuid>, Query),
        ("ordering" = Option<String>, Query), ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query), ("search" = Option<String>, Query)),
    responses((status = 200, body = PaginatedUserList), (status = 400, body = ValidationError), (status = 403, body = GenericError)))]
pub async fn list(State(state): State<AppState>, actor: Actor, query: QueryParams) -> ApiResult<Response> {
    actor.require(service::VIEW)?; // before the query is read: no permission is 403, whatever the query
    let args = ListArgs::parse(&query, USER_ORDERING, &[asc("username")])?;
    let mut errors = FieldErrors::default();
    let filter = UserFilter {
        username: query.filter("username").map(str::to_owned),
        email: query.filter("email").map(str::to_owned),
        name: query.filter("name").map(str::to_owned),
        is_active: bool_filter(query.get("is_active")),
        path: query.filter("path").map(str::to_owned),
        uuid: uuid_filter(&query, "uuid", &mut errors),
        search: args.search.clone(),
    };
    errors.into_result()?;
    let listed = service::list(&state, &actor, &filter, &args.ordering, args.window()).await?;
    args.respond(listed, User::from)
}

/// Create a user.
#[utoipa::path(post, path = "/core/users/", tag = "core", request_body = UserRequest,
    responses((status = 201, body = User), (status = 400, body = ValidationError), (status = 403, body = GenericError)))]
pub async fn create(State(state): State<AppState>, actor: Actor, JsonBody(body): JsonBody) -> ApiResult<Response> {
    let (input, errors) = read_body(&body, false, read_user);
    Ok(created(&User::from(service::create(&state, &actor, input, errors).await?)))
}

/// Get a user.
#[utoipa::path(get, path = "/core/users/{id}/", tag = "core", params(("id" = i64, Path)),
    responses((status = 200, body = User), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn retrieve(State(state): State<AppState>, actor: Actor, Path(id): Path<String>) -> ApiResult<Response> {
    actor.require(service::VIEW)?; // a malformed id is 404 only for those who may look
    Ok(ok(&User::from(service::get(&state, &actor, user_id(&id)?).await?)))
}

/// PUT (`partial` false) and PATCH (true) of one object.
async fn change(
    state: &AppState,
    actor: &Actor,
    id: &str,
    body: &serde_json::Value,
    partial: bool,
) -> ApiResult<Response> {
    actor.require(service::VIEW)?;
    let (input, errors) = read_body(body, partial, read_user);
    Ok(ok(&User::from(service::update(state, actor, user_id(id)?, input, errors).await?)))
}

/// Replace a user.
#[utoipa::path(put, path = "/core/users/{id}/", tag = "core", params(("id" = i64, Path)), request_body = UserRequest,
    responses((status = 200, body = User), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn update(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    change(&state, &actor, &id, &body, false).await
}

/// Change some fields of a user (only the fields sent are written).
#[utoipa::path(patch, path = "/core/users/{id}/", tag = "core", params(("id" = i64, Path)), request_body = UserRequest,
    responses((status = 200, body = User), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn partial_update(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    change(&state, &actor, &id, &body, true).await
}

/// Delete a user, their tokens and their source connections.
#[utoipa::path(delete, path = "/core/users/{id}/", tag = "core", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn destroy(State(state): State<AppState>, actor: Actor, Path(id): Path<String>) -> ApiResult<Response> {
    actor.require(service::VIEW)?;
    service::delete(&state, &actor, user_id(&id)?).await?;
    Ok(no_content())
}

/// Set a user's password (stored with argon2).
#[utoipa::path(post, path = "/core/users/{id}/set_password/", tag = "core", params(("id" = i64, Path)), request_body = UserPasswordSetRequest,
    responses((status = 204), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn set_password(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    actor.require(service::VIEW)?;
    let (password, errors) = read_body(&body, false, |b| b.text("password", Text::REQUIRED));
    service::set_password(&state, &actor, user_id(&id)?, password, errors).await?;
    Ok(no_content())
}

/// What would be deleted with this user.
#[utoipa::path(get, path = "/core/users/{id}/used_by/", tag = "core", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<UsedBy>), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn used_by(State(state): State<AppState>, actor: Actor, Path(id): Path<String>) -> ApiResult<Response> {
    actor.require(service::VIEW)?;
    let (user, usage) = service::usage(&state, &actor, user_id(&id)?).await?;
    let mut entries = Vec::new();
    for identifier in usage.tokens {
        entries.push(UsedBy::new("authentik_core", "token", &identifier, identifier.clone(), "cascade"));
    }
    for (connection, source) in usage.connections {
        let name = format!("User-source connection (user={}, source={source})", user.id);
        entries.push(UsedBy::new("authentik_core", "usersourceconnection", connection, name, "cascade"));
    }
    Ok(ok(&entries))
}

/// The caller.
#[utoipa::path(get, path = "/core/users/me/", tag = "core",
    responses((status = 200, body = SessionUser), (status = 403, body = GenericError)))]
pub async fn me(State(state): State<AppState>, actor: Actor) -> ApiResult<Response> {
    let view = service::me(&state, &actor).await?;
    let system_permissions: Vec<String> = Permission::all().filter(|p| actor.can(*p)).map(|p| p.to_string()).collect();
    let is_superuser = actor.is_superuser();
    let user = view.user;
    Ok(ok(&SessionUser {
        user: UserSelf {
            pk: user.id.0,
            is_superuser,
            groups: view
                .groups
                .into_iter()
                .map(|m| UserSelfGroup { name: m.group.name, pk: m.group.id.to_string() })
                .collect(),
            uid: uid(&user),
            username: user.username,
            name: user.name,
            is_active: user.is_active,
            email: user.email,
            avatar: AVATAR,
            settings: Map::new(),
            user_type: user.user_type.to_string(),
            system_permissions,
        },
    }))
}
