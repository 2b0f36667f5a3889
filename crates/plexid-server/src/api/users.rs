//! `/api/v3/core/users/`: the users Plex sources sign in (the fields the source touches).

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::response::Response;
use plexid_core::permission::{Action, Model};
use plexid_core::validate::{does_not_exist, Text};
use plexid_core::{listing, Body, FieldErrors, Permission};
use plexid_store::accounts::{GroupRecord, NewUser, UserFilter, UserRecord, USER_ORDERING};
use plexid_store::Conn;
use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{asc, lookup, paginated_schema, uuid_filter, GenericError, ListArgs, UsedBy, ValidationError};
use crate::auth::{Caller, Principal};
use crate::clock::{iso8601, now_micros, parse_iso8601};
use crate::crypto::hash_password;
use crate::error::{ApiError, ApiResult, NO_PERMISSION};
use crate::http::{created, no_content, ok, JsonBody, QueryParams};
use crate::state::AppState;

const MODEL: Model = Model::User;
pub const USER_TYPES: &[&str] = &["internal", "external", "service_account", "internal_service_account"];
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
    Sha256::digest(user.uuid.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// authentik's numeric id of a group (31 bits of the uuid).
pub fn num_pk(uuid: Uuid) -> i64 {
    (uuid.as_u128() >> 97) as i64
}

/// Users with their groups, in two queries whatever the page size.
pub async fn shape_users(conn: &mut Conn<'_>, users: Vec<UserRecord>) -> ApiResult<Vec<User>> {
    let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
    let memberships = conn.groups_of_users(&ids).await?;
    let parents: Vec<Uuid> = memberships.iter().filter_map(|(_, g)| g.parent).collect();
    let mut parent_names = HashMap::new();
    for parent in parents {
        if let Some(group) = conn.group_by_uuid(parent).await? {
            parent_names.insert(parent, group.name);
        }
    }
    let mut by_user: HashMap<i64, Vec<UserGroup>> = HashMap::new();
    for (user, group) in memberships {
        let parent_name = group.parent.and_then(|p| parent_names.get(&p).cloned());
        by_user.entry(user).or_default().push(user_group(group, parent_name));
    }
    Ok(users
        .into_iter()
        .map(|u| {
            let groups_obj = by_user.remove(&u.id).unwrap_or_default();
            User {
                pk: u.id,
                is_superuser: groups_obj.iter().any(|g| g.is_superuser),
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
                user_type: u.user_type,
                uuid: u.uuid,
            }
        })
        .collect())
}

fn user_group(group: GroupRecord, parent_name: Option<String>) -> UserGroup {
    UserGroup {
        pk: group.uuid,
        num_pk: num_pk(group.uuid),
        name: group.name,
        is_superuser: group.is_superuser,
        parent: group.parent,
        parent_name,
        attributes: group.attributes,
    }
}

pub async fn shape_user(conn: &mut Conn<'_>, user: UserRecord) -> ApiResult<User> {
    shape_users(conn, vec![user]).await?.pop().ok_or(ApiError::NotFound)
}

fn valid_username(name: &str) -> bool {
    name.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '@' | '.' | '+' | '-'))
}

/// Django's email check, simplified: one `@`, a non-empty local part, a dotted domain, no spaces.
pub fn valid_email(email: &str) -> bool {
    match email.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && (domain.contains('.') || domain == "localhost")
                && !email.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// A user path: non-blank, no leading or trailing slash, no empty segments.
fn path_error(path: &str) -> Option<&'static str> {
    if path.starts_with('/') || path.ends_with('/') {
        Some("No leading or trailing slashes allowed.")
    } else if path.contains("//") {
        Some("No empty segments in user path allowed.")
    } else {
        None
    }
}

/// What a user request sets besides the user's own columns.
struct UserChanges {
    groups: Option<Vec<Uuid>>,
}

fn read_user(body: &mut Body<'_>, mut user: UserRecord) -> (UserRecord, UserChanges) {
    if let Some(username) = body.text("username", Text::REQUIRED.max(150)) {
        if valid_username(&username) {
            user.username = username;
        } else {
            body.errors.add(
                "username",
                "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.",
            );
        }
    }
    if let Some(name) = body.text("name", Text { required: true, ..Text::OPTIONAL_BLANK }) {
        user.name = name;
    }
    if let Some(active) = body.boolean("is_active") {
        user.is_active = active;
    }
    if let Some(last_login) = body.nullable_text("last_login", Text::OPTIONAL) {
        match last_login.as_deref().map(parse_iso8601) {
            None => user.last_login = None,
            Some(Some(at)) => user.last_login = Some(at),
            Some(None) => body.errors.add(
                "last_login",
                "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].",
            ),
        }
    }
    let groups = body.uuid_list("groups");
    if let Some(email) = body.text("email", Text::OPTIONAL_BLANK.max(254)) {
        if email.is_empty() || valid_email(&email) {
            user.email = email;
        } else {
            body.errors.add("email", "Enter a valid email address.");
        }
    }
    if let Some(attributes) = body.object("attributes") {
        user.attributes = attributes;
    }
    if let Some(path) = body.text("path", Text::OPTIONAL) {
        match path_error(&path) {
            Some(message) => body.errors.add("path", message),
            None => user.path = path,
        }
    }
    if let Some(user_type) = body.choice("type", USER_TYPES) {
        user.user_type = user_type;
    }
    (user, UserChanges { groups })
}

const FIELD_ORDER: &[&str] =
    &["username", "name", "is_active", "last_login", "groups", "email", "attributes", "path", "type"];

/// Only superusers may change who is in a superuser group (or edit a superuser).
async fn guard_superuser_groups(
    conn: &mut Conn<'_>,
    caller: &Principal,
    before: &[Uuid],
    after: &[Uuid],
) -> ApiResult<()> {
    if caller.is_superuser {
        return Ok(());
    }
    for changed in before.iter().filter(|g| !after.contains(g)).chain(after.iter().filter(|g| !before.contains(g))) {
        if conn.group_by_uuid(*changed).await?.is_some_and(|g| g.is_superuser) {
            return Err(ApiError::Forbidden(NO_PERMISSION));
        }
    }
    Ok(())
}

async fn save(
    state: &AppState,
    caller: &Principal,
    body: &Value,
    partial: bool,
    stored: Option<UserRecord>,
) -> ApiResult<User> {
    let mut body = Body::new(body, partial)?;
    let is_new = stored.is_none();
    let base = stored.unwrap_or_else(|| UserRecord {
        id: 0,
        uuid: Uuid::new_v4(),
        username: String::new(),
        name: String::new(),
        email: String::new(),
        is_active: true,
        path: "users".into(),
        attributes: Map::new(),
        last_login: None,
        date_joined: now_micros(),
        password_hash: None,
        user_type: "internal".into(),
    });
    let (mut user, changes) = read_user(&mut body, base);
    let mut errors = body.errors;
    let mut tx = state.store.begin().await?;
    let mut conn = tx.conn();
    if let Some(groups) = &changes.groups {
        let existing = conn.existing_groups(groups).await?;
        if let Some(missing) = groups.iter().find(|g| !existing.contains(g)) {
            errors.add("groups", does_not_exist(missing));
        }
    }
    errors.sort_by(FIELD_ORDER);
    errors.into_result()?;
    let before: Vec<Uuid> = if is_new {
        Vec::new()
    } else {
        conn.groups_of_users(&[user.id]).await?.into_iter().map(|(_, g)| g.uuid).collect()
    };
    if let Some(groups) = &changes.groups {
        guard_superuser_groups(&mut conn, caller, &before, groups).await?;
    }
    if is_new {
        user.id = conn
            .insert_user(&NewUser {
                uuid: user.uuid,
                username: user.username.clone(),
                name: user.name.clone(),
                email: user.email.clone(),
                is_active: user.is_active,
                path: user.path.clone(),
                attributes: user.attributes.clone(),
                date_joined: user.date_joined,
                password_hash: None,
                user_type: user.user_type.clone(),
            })
            .await?;
        if user.last_login.is_some() {
            conn.update_user(&user).await?;
        }
    } else {
        conn.update_user(&user).await?;
    }
    if let Some(groups) = &changes.groups {
        conn.set_user_groups(user.id, groups).await?;
    }
    let shaped = shape_user(&mut conn, user).await?;
    tx.commit().await?;
    Ok(shaped)
}

fn parse_id(id: &str) -> ApiResult<i64> {
    lookup(id)?.parse().map_err(|_| ApiError::NotFound)
}

async fn visible(state: &AppState, caller: &Caller, id: &str) -> ApiResult<UserRecord> {
    caller.require(Action::View, MODEL)?;
    state.store.conn().user_by_id(parse_id(id)?).await?.ok_or(ApiError::NotFound)
}

/// Changing a superuser needs a superuser.
async fn guard_target(state: &AppState, caller: &Principal, user: &UserRecord) -> ApiResult<()> {
    if !caller.is_superuser && state.store.conn().is_superuser(user.id).await? {
        return Err(ApiError::Forbidden(NO_PERMISSION));
    }
    Ok(())
}

/// List users.
#[utoipa::path(get, path = "/core/users/", tag = "core",
    params(("username" = Option<String>, Query), ("email" = Option<String>, Query), ("name" = Option<String>, Query),
        ("is_active" = Option<bool>, Query), ("path" = Option<String>, Query), ("uuid" = Option<Uuid>, Query),
        ("ordering" = Option<String>, Query), ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query), ("search" = Option<String>, Query)),
    responses((status = 200, body = PaginatedUserList), (status = 400, body = ValidationError), (status = 403, body = GenericError)))]
pub async fn list(State(state): State<AppState>, caller: Caller, query: QueryParams) -> ApiResult<Response> {
    caller.require(Action::View, MODEL)?;
    let args = ListArgs::parse(&query, USER_ORDERING, &[asc("username")])?;
    let mut errors = FieldErrors::default();
    let filter = UserFilter {
        username: query.filter("username").map(str::to_owned),
        email: query.filter("email").map(str::to_owned),
        name: query.filter("name").map(str::to_owned),
        is_active: listing::bool_filter(query.get("is_active")),
        path: query.filter("path").map(str::to_owned),
        uuid: uuid_filter(&query, "uuid", &mut errors),
        search: args.search.clone(),
    };
    errors.into_result()?;
    let mut conn = state.store.conn();
    let listed = conn.list_users(&filter, &args.ordering, args.window()).await?;
    let total = listed.total;
    let users = shape_users(&mut conn, listed.rows).await?;
    args.respond_shaped(total, users)
}

/// Create a user.
#[utoipa::path(post, path = "/core/users/", tag = "core", request_body = UserRequest,
    responses((status = 201, body = User), (status = 400, body = ValidationError), (status = 403, body = GenericError)))]
pub async fn create(State(state): State<AppState>, caller: Caller, JsonBody(body): JsonBody) -> ApiResult<Response> {
    let principal = caller.require(Action::Add, MODEL)?;
    Ok(created(&save(&state, principal, &body, false, None).await?))
}

/// Get a user.
#[utoipa::path(get, path = "/core/users/{id}/", tag = "core", params(("id" = i64, Path)),
    responses((status = 200, body = User), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn retrieve(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let user = visible(&state, &caller, &id).await?;
    Ok(ok(&shape_user(&mut state.store.conn(), user).await?))
}

/// PUT (`partial` false) and PATCH (true) of one object.
async fn change(
    state: &AppState,
    caller: &Caller,
    key: &str,
    body: &serde_json::Value,
    partial: bool,
) -> ApiResult<Response> {
    let stored = visible(state, caller, key).await?;
    let principal = caller.require(Action::Change, MODEL)?;
    guard_target(state, principal, &stored).await?;
    Ok(ok(&save(state, principal, body, partial, Some(stored)).await?))
}

/// Replace a user.
#[utoipa::path(put, path = "/core/users/{id}/", tag = "core", params(("id" = i64, Path)), request_body = UserRequest,
    responses((status = 200, body = User), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    change(&state, &caller, &id, &body, false).await
}

/// Change some fields of a user.
#[utoipa::path(patch, path = "/core/users/{id}/", tag = "core", params(("id" = i64, Path)), request_body = UserRequest,
    responses((status = 200, body = User), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn partial_update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    change(&state, &caller, &id, &body, true).await
}

/// Delete a user, their tokens and their source connections.
#[utoipa::path(delete, path = "/core/users/{id}/", tag = "core", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn destroy(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let stored = visible(&state, &caller, &id).await?;
    let principal = caller.require(Action::Delete, MODEL)?;
    guard_target(&state, principal, &stored).await?;
    let mut tx = state.store.begin().await?;
    tx.conn().delete_user(stored.id).await?;
    tx.commit().await?;
    Ok(no_content())
}

/// Set a user's password (stored with argon2).
#[utoipa::path(post, path = "/core/users/{id}/set_password/", tag = "core", params(("id" = i64, Path)), request_body = UserPasswordSetRequest,
    responses((status = 204), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn set_password(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let stored = visible(&state, &caller, &id).await?;
    let principal = caller.require(Action::Change, MODEL)?;
    guard_target(&state, principal, &stored).await?;
    let mut body = Body::new(&body, false)?;
    let password = body.text("password", Text::REQUIRED);
    body.errors.into_result()?;
    let hash = tokio::task::spawn_blocking(move || hash_password(&password.unwrap_or_default()))
        .await
        .map_err(|e| ApiError::Internal(format!("password hashing task: {e}")))?;
    let mut tx = state.store.begin().await?;
    tx.conn().set_user_password(stored.id, &hash).await?;
    tx.commit().await?;
    Ok(no_content())
}

/// What would be deleted with this user.
#[utoipa::path(get, path = "/core/users/{id}/used_by/", tag = "core", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<UsedBy>), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn used_by(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<Response> {
    let user = visible(&state, &caller, &id).await?;
    let mut conn = state.store.conn();
    let mut entries = Vec::new();
    if caller.can(Action::View, Model::Token) {
        for identifier in conn.token_identifiers_of_user(user.id).await? {
            entries.push(UsedBy::new("authentik_core", "token", &identifier, identifier.clone(), "cascade"));
        }
    }
    if caller.can(Action::View, Model::UserPlexSourceConnection) {
        for (connection, source) in conn.connections_of_user(user.id).await? {
            let name = format!("User-source connection (user={}, source={source})", user.id);
            entries.push(UsedBy::new("authentik_core", "usersourceconnection", connection, name, "cascade"));
        }
    }
    Ok(ok(&entries))
}

/// The caller.
#[utoipa::path(get, path = "/core/users/me/", tag = "core",
    responses((status = 200, body = SessionUser), (status = 403, body = GenericError)))]
pub async fn me(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let principal = caller.user()?;
    let mut conn = state.store.conn();
    let user = conn.user_by_id(principal.user_id).await?.ok_or(ApiError::NotFound)?;
    let groups = conn.groups_of_users(&[user.id]).await?;
    let system_permissions: Vec<String> =
        Permission::all().filter(|p| principal.has(*p)).map(|p| p.to_string()).collect();
    Ok(ok(&SessionUser {
        user: UserSelf {
            pk: user.id,
            is_superuser: principal.is_superuser,
            groups: groups.into_iter().map(|(_, g)| UserSelfGroup { name: g.name, pk: g.uuid.to_string() }).collect(),
            uid: uid(&user),
            username: user.username,
            name: user.name,
            is_active: user.is_active,
            email: user.email,
            avatar: AVATAR,
            settings: Map::new(),
            user_type: user.user_type,
            system_permissions,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_usernames_paths() {
        assert!(valid_email("a@b.co"));
        assert!(!valid_email("a@b"));
        assert!(!valid_email("@b.co"));
        assert!(!valid_email("a b@c.de"));
        assert!(valid_username("jane.doe+plex@x"));
        assert!(!valid_username("jane doe"));
        assert_eq!(path_error("goauthentik.io/sources/plex"), None);
        assert!(path_error("/users").is_some());
        assert!(path_error("a//b").is_some());
    }
}
