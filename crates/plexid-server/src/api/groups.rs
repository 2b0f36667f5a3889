//! `/api/v3/core/groups/`.

use axum::extract::{Path, State};
use axum::response::Response;
use plexid_core::model::{GroupChanges, User as UserRecord};
use plexid_core::{GroupId, UserId};
use plexid_store::groups::{GroupFilter, GROUP_ORDERING};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::drf::query::bool_filter;
use super::drf::{Body, Text};
use super::error::{ApiError, ApiResult};
use super::http::{created, no_content, ok, JsonBody, QueryParams};
use super::users::{num_pk, uid};
use super::{asc, lookup, paginated_schema, read_body, GenericError, ListArgs, UsedBy, ValidationError};
use crate::clock::iso8601;
use crate::service::groups::{self as service, GroupInput, GroupView, MemberDetail, Members};
use crate::service::Actor;
use crate::state::AppState;

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
    /// The members; null with `include_users=false`.
    pub users_obj: Option<Vec<GroupMember>>,
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
        pk: user.id.0,
        uid: uid(&user),
        username: user.username,
        name: user.name,
        is_active: user.is_active,
        last_login: user.last_login.map(iso8601),
        email: user.email,
        attributes: user.attributes,
    }
}

impl From<GroupView> for Group {
    fn from(view: GroupView) -> Self {
        let g = view.group;
        let users = view.members.ids().into_iter().map(|id| id.0).collect();
        let users_obj = match view.members {
            Members::Users(users) => Some(users.into_iter().map(member).collect()),
            Members::Count(_) | Members::Ids(_) => None,
        };
        Group {
            pk: g.id.0,
            num_pk: num_pk(g.id),
            name: g.name,
            is_superuser: g.is_superuser,
            parent: g.parent.map(|p| p.0),
            parent_name: view.parent_name,
            users,
            users_obj,
            attributes: g.attributes,
            roles: Vec::new(),
            roles_obj: Vec::new(),
        }
    }
}

pub(crate) fn read_group(body: &mut Body<'_>) -> GroupInput {
    let changes = GroupChanges {
        name: body.text("name", Text::REQUIRED),
        is_superuser: body.boolean("is_superuser"),
        parent: body.uuid_ref("parent").map(|p| p.map(GroupId)),
        attributes: None,
    };
    let users = body.int_list("users").map(|ids| ids.into_iter().map(UserId).collect());
    let attributes = body.object("attributes");
    GroupInput { changes: GroupChanges { attributes, ..changes }, users }
}

/// authentik's `include_users` (default true): anything but `true` leaves the members out
/// (`users_obj` null, `users` still listed), so a page of groups costs no user rows.
fn member_detail(query: &QueryParams) -> MemberDetail {
    match query.get("include_users") {
        Some(value) if !value.eq_ignore_ascii_case("true") => MemberDetail::Ids,
        _ => MemberDetail::Users,
    }
}

fn group_id(pk: &str) -> ApiResult<GroupId> {
    lookup(pk)?.parse().map_err(|_| ApiError::NotFound)
}

/// List groups.
#[utoipa::path(get, path = "/core/groups/", tag = "core",
    params(("include_users" = Option<bool>, Query), ("name" = Option<String>, Query), ("is_superuser" = Option<bool>, Query), ("ordering" = Option<String>, Query),
        ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query), ("search" = Option<String>, Query)),
    responses((status = 200, body = PaginatedGroupList), (status = 403, body = GenericError)))]
pub async fn list(State(state): State<AppState>, actor: Actor, query: QueryParams) -> ApiResult<Response> {
    actor.require(service::VIEW)?; // before the query is read: no permission is 403, whatever the query
    let args = ListArgs::parse(&query, GROUP_ORDERING, &[asc("name")])?;
    let filter = GroupFilter {
        name: query.filter("name").map(str::to_owned),
        is_superuser: bool_filter(query.get("is_superuser")),
        search: args.search.clone(),
    };
    let listed = service::list(&state, &actor, &filter, &args.ordering, args.window(), member_detail(&query)).await?;
    args.respond(listed, Group::from)
}

/// Create a group (a superuser group only by a superuser).
#[utoipa::path(post, path = "/core/groups/", tag = "core", request_body = GroupRequest,
    responses((status = 201, body = Group), (status = 400, body = ValidationError), (status = 403, body = GenericError)))]
pub async fn create(State(state): State<AppState>, actor: Actor, JsonBody(body): JsonBody) -> ApiResult<Response> {
    let (input, errors) = read_body(&body, false, read_group);
    Ok(created(&Group::from(service::create(&state, &actor, input, errors).await?)))
}

/// Get a group.
#[utoipa::path(get, path = "/core/groups/{group_uuid}/", tag = "core",
    params(("group_uuid" = Uuid, Path), ("include_users" = Option<bool>, Query)),
    responses((status = 200, body = Group), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn retrieve(
    State(state): State<AppState>,
    actor: Actor,
    Path(pk): Path<String>,
    query: QueryParams,
) -> ApiResult<Response> {
    actor.require(service::VIEW)?; // a malformed id is 404 only for those who may look
    Ok(ok(&Group::from(service::get(&state, &actor, group_id(&pk)?, member_detail(&query)).await?)))
}

/// PUT (`partial` false) and PATCH (true) of one object.
async fn change(
    state: &AppState,
    actor: &Actor,
    pk: &str,
    body: &serde_json::Value,
    partial: bool,
) -> ApiResult<Response> {
    actor.require(service::VIEW)?;
    let (input, errors) = read_body(body, partial, read_group);
    Ok(ok(&Group::from(service::update(state, actor, group_id(pk)?, input, errors).await?)))
}

/// Replace a group.
#[utoipa::path(put, path = "/core/groups/{group_uuid}/", tag = "core", params(("group_uuid" = Uuid, Path)), request_body = GroupRequest,
    responses((status = 200, body = Group), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn update(
    State(state): State<AppState>,
    actor: Actor,
    Path(pk): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    change(&state, &actor, &pk, &body, false).await
}

/// Change some fields of a group.
#[utoipa::path(patch, path = "/core/groups/{group_uuid}/", tag = "core", params(("group_uuid" = Uuid, Path)), request_body = GroupRequest,
    responses((status = 200, body = Group), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn partial_update(
    State(state): State<AppState>,
    actor: Actor,
    Path(pk): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    change(&state, &actor, &pk, &body, true).await
}

/// Delete a group and its source connections.
#[utoipa::path(delete, path = "/core/groups/{group_uuid}/", tag = "core", params(("group_uuid" = Uuid, Path)),
    responses((status = 204), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn destroy(State(state): State<AppState>, actor: Actor, Path(pk): Path<String>) -> ApiResult<Response> {
    actor.require(service::VIEW)?;
    service::delete(&state, &actor, group_id(&pk)?).await?;
    Ok(no_content())
}

/// Adds (`add`) or removes a user given as `{"pk": <user id>}`.
async fn change_membership(state: &AppState, actor: &Actor, pk: &str, body: &Value, add: bool) -> ApiResult<Response> {
    actor.require(service::VIEW)?;
    let (user, errors) = read_body(body, false, |b| b.integer("pk", true).map(UserId));
    service::change_membership(state, actor, group_id(pk)?, user, errors, add).await?;
    Ok(no_content())
}

/// Add a user to the group.
#[utoipa::path(post, path = "/core/groups/{group_uuid}/add_user/", tag = "core", params(("group_uuid" = Uuid, Path)), request_body = UserAccountRequest,
    responses((status = 204), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn add_user(
    State(state): State<AppState>,
    actor: Actor,
    Path(pk): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    change_membership(&state, &actor, &pk, &body, true).await
}

/// Remove a user from the group.
#[utoipa::path(post, path = "/core/groups/{group_uuid}/remove_user/", tag = "core", params(("group_uuid" = Uuid, Path)), request_body = UserAccountRequest,
    responses((status = 204), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn remove_user(
    State(state): State<AppState>,
    actor: Actor,
    Path(pk): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    change_membership(&state, &actor, &pk, &body, false).await
}

/// What would be deleted with this group.
#[utoipa::path(get, path = "/core/groups/{group_uuid}/used_by/", tag = "core", params(("group_uuid" = Uuid, Path)),
    responses((status = 200, body = Vec<UsedBy>), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn used_by(State(state): State<AppState>, actor: Actor, Path(pk): Path<String>) -> ApiResult<Response> {
    actor.require(service::VIEW)?;
    let group = group_id(&pk)?;
    let entries: Vec<UsedBy> = service::usage(&state, &actor, group)
        .await?
        .into_iter()
        .map(|(connection, source)| {
            let name = format!("Group-source connection (group={group}, source={source})");
            UsedBy::new("authentik_core", "groupsourceconnection", connection, name, "cascade")
        })
        .collect();
    Ok(ok(&entries))
}
