//! `/api/v3/core/groups/`.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::response::Response;
use plexid_core::permission::{Action, Model};
use plexid_core::validate::{does_not_exist, Text};
use plexid_core::{listing, Body};
use plexid_store::accounts::{GroupFilter, GroupRecord, UserRecord, GROUP_ORDERING};
use plexid_store::Conn;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::users::{num_pk, uid};
use super::{asc, lookup, paginated_schema, GenericError, ListArgs, UsedBy, ValidationError};
use crate::auth::{Caller, Principal};
use crate::clock::iso8601;
use crate::error::{ApiError, ApiResult, NO_PERMISSION};
use crate::http::{created, no_content, ok, JsonBody, QueryParams};
use crate::state::AppState;

const MODEL: Model = Model::Group;

/// A member as nested in a group (authentik's `GroupMember`).
#[derive(Serialize, ToSchema)]
pub struct GroupMember {
    pub pk: i64,
    pub username: String,
    pub name: String,
    pub is_active: bool,
    pub last_login: Option<String>,
    pub email: String,
    pub attributes: Map<String, Value>,
    pub uid: String,
}

/// authentik's `Group`.
#[derive(Serialize, ToSchema)]
pub struct Group {
    pub pk: Uuid,
    pub num_pk: i64,
    pub name: String,
    pub is_superuser: bool,
    pub parent: Option<Uuid>,
    pub parent_name: Option<String>,
    pub users: Vec<i64>,
    pub users_obj: Vec<GroupMember>,
    pub attributes: Map<String, Value>,
    pub roles: Vec<Uuid>,
    pub roles_obj: Vec<Value>,
}

/// authentik's `GroupRequest`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct GroupRequest {
    name: String,
    is_superuser: Option<bool>,
    parent: Option<Uuid>,
    users: Option<Vec<i64>>,
    attributes: Option<Map<String, Value>>,
}

/// `{"pk": <user id>}` of `add_user` / `remove_user`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UserAccountRequest {
    pk: i64,
}

paginated_schema!(PaginatedGroupList, Group);

fn member(user: UserRecord) -> GroupMember {
    GroupMember {
        pk: user.id,
        uid: uid(&user),
        username: user.username,
        name: user.name,
        is_active: user.is_active,
        last_login: user.last_login.map(iso8601),
        email: user.email,
        attributes: user.attributes,
    }
}

async fn shape_groups(conn: &mut Conn<'_>, groups: Vec<GroupRecord>) -> ApiResult<Vec<Group>> {
    let ids: Vec<Uuid> = groups.iter().map(|g| g.uuid).collect();
    let mut members: HashMap<Uuid, Vec<GroupMember>> = HashMap::new();
    for (group, user) in conn.members_of_groups(&ids).await? {
        members.entry(group).or_default().push(member(user));
    }
    let mut shaped = Vec::with_capacity(groups.len());
    for g in groups {
        let parent_name = match g.parent {
            Some(parent) => conn.group_by_uuid(parent).await?.map(|p| p.name),
            None => None,
        };
        let users_obj = members.remove(&g.uuid).unwrap_or_default();
        shaped.push(Group {
            pk: g.uuid,
            num_pk: num_pk(g.uuid),
            name: g.name,
            is_superuser: g.is_superuser,
            parent: g.parent,
            parent_name,
            users: users_obj.iter().map(|m| m.pk).collect(),
            users_obj,
            attributes: g.attributes,
            roles: Vec::new(),
            roles_obj: Vec::new(),
        });
    }
    Ok(shaped)
}

async fn shape_group(conn: &mut Conn<'_>, group: GroupRecord) -> ApiResult<Group> {
    shape_groups(conn, vec![group]).await?.pop().ok_or(ApiError::NotFound)
}

const FIELD_ORDER: &[&str] = &["name", "is_superuser", "parent", "users", "attributes"];

async fn save(
    state: &AppState,
    caller: &Principal,
    body: &Value,
    partial: bool,
    stored: Option<GroupRecord>,
) -> ApiResult<Group> {
    let mut body = Body::new(body, partial)?;
    let was_superuser = stored.as_ref().is_some_and(|g| g.is_superuser);
    let is_new = stored.is_none();
    let mut group = stored.unwrap_or_else(|| GroupRecord {
        uuid: Uuid::new_v4(),
        name: String::new(),
        is_superuser: false,
        parent: None,
        attributes: Map::new(),
    });
    if let Some(name) = body.text("name", Text::REQUIRED) {
        group.name = name;
    }
    if let Some(flag) = body.boolean("is_superuser") {
        group.is_superuser = flag;
    }
    if let Some(parent) = body.uuid_ref("parent") {
        group.parent = parent;
    }
    let users = body.int_list("users");
    if let Some(attributes) = body.object("attributes") {
        group.attributes = attributes;
    }
    let mut errors = body.errors;
    let mut tx = state.store.begin().await?;
    let mut conn = tx.conn();
    if let Some(parent) = group.parent {
        if parent == group.uuid || conn.existing_groups(&[parent]).await?.is_empty() {
            errors.add("parent", does_not_exist(parent));
        }
    }
    if let Some(users) = &users {
        let existing = conn.existing_users(users).await?;
        if let Some(missing) = users.iter().find(|u| !existing.contains(u)) {
            errors.add("users", does_not_exist(missing));
        }
    }
    errors.sort_by(FIELD_ORDER);
    errors.into_result()?;
    let membership_changes = users.is_some();
    if !caller.is_superuser
        && (group.is_superuser || was_superuser)
        && (group.is_superuser != was_superuser || membership_changes)
    {
        return Err(ApiError::Forbidden(NO_PERMISSION));
    }
    if is_new {
        conn.insert_group(&group).await?;
    } else {
        conn.update_group(&group).await?;
    }
    if let Some(users) = &users {
        conn.set_group_members(group.uuid, users).await?;
    }
    let shaped = shape_group(&mut conn, group).await?;
    tx.commit().await?;
    Ok(shaped)
}

async fn visible(state: &AppState, caller: &Caller, pk: &str) -> ApiResult<GroupRecord> {
    caller.require(Action::View, MODEL)?;
    let uuid = Uuid::parse_str(lookup(pk)?).map_err(|_| ApiError::NotFound)?;
    state.store.conn().group_by_uuid(uuid).await?.ok_or(ApiError::NotFound)
}

/// List groups.
#[utoipa::path(get, path = "/core/groups/", tag = "core",
    params(("name" = Option<String>, Query), ("is_superuser" = Option<bool>, Query), ("ordering" = Option<String>, Query),
        ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query), ("search" = Option<String>, Query)),
    responses((status = 200, body = PaginatedGroupList), (status = 403, body = GenericError)))]
pub async fn list(State(state): State<AppState>, caller: Caller, query: QueryParams) -> ApiResult<Response> {
    caller.require(Action::View, MODEL)?;
    let args = ListArgs::parse(&query, GROUP_ORDERING, &[asc("name")])?;
    let filter = GroupFilter {
        name: query.filter("name").map(str::to_owned),
        is_superuser: listing::bool_filter(query.get("is_superuser")),
        search: args.search.clone(),
    };
    let mut conn = state.store.conn();
    let listed = conn.list_groups(&filter, &args.ordering, args.window()).await?;
    let total = listed.total;
    let groups = shape_groups(&mut conn, listed.rows).await?;
    args.respond_shaped(total, groups)
}

/// Create a group (a superuser group only by a superuser).
#[utoipa::path(post, path = "/core/groups/", tag = "core", request_body = GroupRequest,
    responses((status = 201, body = Group), (status = 400, body = ValidationError), (status = 403, body = GenericError)))]
pub async fn create(State(state): State<AppState>, caller: Caller, JsonBody(body): JsonBody) -> ApiResult<Response> {
    let principal = caller.require(Action::Add, MODEL)?;
    Ok(created(&save(&state, principal, &body, false, None).await?))
}

/// Get a group.
#[utoipa::path(get, path = "/core/groups/{group_uuid}/", tag = "core", params(("group_uuid" = Uuid, Path)),
    responses((status = 200, body = Group), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn retrieve(State(state): State<AppState>, caller: Caller, Path(pk): Path<String>) -> ApiResult<Response> {
    let group = visible(&state, &caller, &pk).await?;
    Ok(ok(&shape_group(&mut state.store.conn(), group).await?))
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
    Ok(ok(&save(state, principal, body, partial, Some(stored)).await?))
}

/// Replace a group.
#[utoipa::path(put, path = "/core/groups/{group_uuid}/", tag = "core", params(("group_uuid" = Uuid, Path)), request_body = GroupRequest,
    responses((status = 200, body = Group), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(pk): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    change(&state, &caller, &pk, &body, false).await
}

/// Change some fields of a group.
#[utoipa::path(patch, path = "/core/groups/{group_uuid}/", tag = "core", params(("group_uuid" = Uuid, Path)), request_body = GroupRequest,
    responses((status = 200, body = Group), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn partial_update(
    State(state): State<AppState>,
    caller: Caller,
    Path(pk): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    change(&state, &caller, &pk, &body, true).await
}

/// Delete a group and its source connections.
#[utoipa::path(delete, path = "/core/groups/{group_uuid}/", tag = "core", params(("group_uuid" = Uuid, Path)),
    responses((status = 204), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn destroy(State(state): State<AppState>, caller: Caller, Path(pk): Path<String>) -> ApiResult<Response> {
    let stored = visible(&state, &caller, &pk).await?;
    let principal = caller.require(Action::Delete, MODEL)?;
    if stored.is_superuser && !principal.is_superuser {
        return Err(ApiError::Forbidden(NO_PERMISSION));
    }
    let mut tx = state.store.begin().await?;
    tx.conn().delete_group(stored.uuid).await?;
    tx.commit().await?;
    Ok(no_content())
}

/// Adds (`add`) or removes a user given as `{"pk": <user id>}`.
async fn change_membership(
    state: &AppState,
    caller: &Caller,
    pk: &str,
    body: &Value,
    add: bool,
) -> ApiResult<Response> {
    let group = visible(state, caller, pk).await?;
    let principal = caller.require(Action::Change, MODEL)?;
    if group.is_superuser && !principal.is_superuser {
        return Err(ApiError::Forbidden(NO_PERMISSION));
    }
    let mut body = Body::new(body, false)?;
    let user = body.integer("pk", true);
    body.errors.into_result()?;
    let mut tx = state.store.begin().await?;
    let mut conn = tx.conn();
    let user = conn.user_by_id(user.unwrap_or_default()).await?.ok_or(ApiError::NotFound)?;
    if add {
        conn.add_member(group.uuid, user.id).await?;
    } else {
        conn.remove_member(group.uuid, user.id).await?;
    }
    tx.commit().await?;
    Ok(no_content())
}

/// Add a user to the group.
#[utoipa::path(post, path = "/core/groups/{group_uuid}/add_user/", tag = "core", params(("group_uuid" = Uuid, Path)), request_body = UserAccountRequest,
    responses((status = 204), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn add_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(pk): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    change_membership(&state, &caller, &pk, &body, true).await
}

/// Remove a user from the group.
#[utoipa::path(post, path = "/core/groups/{group_uuid}/remove_user/", tag = "core", params(("group_uuid" = Uuid, Path)), request_body = UserAccountRequest,
    responses((status = 204), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn remove_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(pk): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    change_membership(&state, &caller, &pk, &body, false).await
}

/// What would be deleted with this group.
#[utoipa::path(get, path = "/core/groups/{group_uuid}/used_by/", tag = "core", params(("group_uuid" = Uuid, Path)),
    responses((status = 200, body = Vec<UsedBy>), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn used_by(State(state): State<AppState>, caller: Caller, Path(pk): Path<String>) -> ApiResult<Response> {
    let group = visible(&state, &caller, &pk).await?;
    let mut entries = Vec::new();
    if caller.can(Action::View, Model::GroupPlexSourceConnection) {
        for (connection, source) in state.store.conn().connections_of_group(group.uuid).await? {
            let name = format!("Group-source connection (group={}, source={source})", group.uuid);
            entries.push(UsedBy::new("authentik_core", "groupsourceconnection", connection, name, "cascade"));
        }
    }
    Ok(ok(&entries))
}
