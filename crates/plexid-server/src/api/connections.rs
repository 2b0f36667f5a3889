//! `/api/v3/sources/user_connections/plex/` and `/api/v3/sources/group_connections/plex/`.
//! Users see and delete their own user connections; everything else follows RBAC (D7). Creating
//! a connection names the user or group and the source (D10); a Plex account can be linked to one
//! user per source only, and only administrators may change which account a connection holds (D6).

use axum::extract::{Path, State};
use axum::response::Response;
use plexid_core::model::{GroupConnection, Source, UserConnection, UserConnectionChanges};
use plexid_core::{FieldErrors, GroupConnectionId, GroupId, UserConnectionId, UserId};
use plexid_store::connections::{ConnectionFilter, GROUP_CONNECTION_ORDERING, USER_CONNECTION_ORDERING};
use plexid_store::OrderTerm;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::drf::Text;
use super::error::{ApiError, ApiResult};
use super::http::{created, no_content, ok, JsonBody, QueryParams};
use super::sources::SourceSummary;
use super::{asc, lookup, paginated_schema, read_body, uuid_filter, GenericError, ListArgs, UsedBy, ValidationError};
use crate::clock::iso8601;
use crate::service::connections::{self as service, NewGroupConnection, NewUserConnection};
use crate::service::{Actor, UNKNOWN_CHOICE};
use crate::state::AppState;

const DEFAULT_ORDER: [OrderTerm; 2] = [asc("source__slug"), asc("pk")];

/// authentik's `UserPlexSourceConnection`; `plex_token` is write-only.
#[derive(Serialize, ToSchema)]
pub struct UserPlexSourceConnection {
    pub pk: i64,
    pub user: i64,
    pub source: SourceSummary,
    pub created: String,
    pub identifier: String,
}

/// authentik's `GroupPlexSourceConnection`.
#[derive(Serialize, ToSchema)]
pub struct GroupPlexSourceConnection {
    pub pk: i64,
    pub group: Uuid,
    pub source: SourceSummary,
    pub identifier: String,
    pub created: String,
}

/// Create body of a user connection (D10). On update only `identifier` (administrators) and
/// `plex_token` are read.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UserPlexSourceConnectionRequest {
    user: Option<i64>,
    /// The source's slug or pk.
    source: Option<String>,
    identifier: String,
    /// Stored encrypted, never returned.
    plex_token: String,
}

/// authentik's `PatchedUserPlexSourceConnectionRequest`: every field optional.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PatchedUserPlexSourceConnectionRequest {
    identifier: Option<String>,
    /// Stored encrypted, never returned.
    plex_token: Option<String>,
}

/// Create body of a group connection (D10). On update only `identifier` is read.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct GroupPlexSourceConnectionRequest {
    group: Option<Uuid>,
    /// The source's slug or pk.
    source: Option<String>,
    identifier: Option<String>,
}

paginated_schema!(PaginatedUserPlexSourceConnectionList, UserPlexSourceConnection);
paginated_schema!(PaginatedGroupPlexSourceConnectionList, GroupPlexSourceConnection);

fn summary_of(sources: &[Source], connection_source: plexid_core::SourceId) -> ApiResult<SourceSummary> {
    sources
        .iter()
        .find(|s| s.id == connection_source)
        .cloned()
        .map(SourceSummary::from)
        .ok_or_else(|| ApiError::Internal(format!("connection to missing source {connection_source}")))
}

fn user_connection(c: UserConnection, source: SourceSummary) -> UserPlexSourceConnection {
    UserPlexSourceConnection {
        pk: c.id.0,
        user: c.user.0,
        source,
        created: iso8601(c.created),
        identifier: c.identifier,
    }
}

fn group_connection(c: GroupConnection, source: SourceSummary) -> GroupPlexSourceConnection {
    GroupPlexSourceConnection {
        pk: c.id.0,
        group: c.group.0,
        source,
        identifier: c.identifier,
        created: iso8601(c.created),
    }
}

/// `source__slug` and the `user`/`group` filters; values that cannot name anything are errors.
fn connection_filter(query: &QueryParams, args: &ListArgs) -> (ConnectionFilter, FieldErrors) {
    let mut errors = FieldErrors::default();
    let user = query.filter("user").and_then(|value| match value.parse::<i64>() {
        Ok(id) => Some(UserId(id)),
        Err(_) => {
            errors.add("user", UNKNOWN_CHOICE);
            None
        }
    });
    let group = uuid_filter(query, "group", &mut errors).map(GroupId);
    let filter = ConnectionFilter {
        user,
        group,
        source_slug: query.filter("source__slug").map(str::to_owned),
        owner: None,
        search: args.search.clone(),
        lookup: Vec::new(),
    };
    (filter, errors)
}

fn user_connection_id(id: &str) -> ApiResult<UserConnectionId> {
    lookup(id)?.parse().map_err(|_| ApiError::NotFound)
}

fn group_connection_id(id: &str) -> ApiResult<GroupConnectionId> {
    lookup(id)?.parse().map_err(|_| ApiError::NotFound)
}

// ---------------------------------------------------------------- user connections

/// List user Plex connections (your own, or all with view permission).
#[utoipa::path(get, path = "/sources/user_connections/plex/", tag = "sources",
    params(("user" = Option<i64>, Query), ("source__slug" = Option<String>, Query), ("ordering" = Option<String>, Query),
        ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query), ("search" = Option<String>, Query)),
    responses((status = 200, body = PaginatedUserPlexSourceConnectionList), (status = 400, body = ValidationError), (status = 403, body = GenericError)))]
pub async fn list_user(State(state): State<AppState>, actor: Actor, query: QueryParams) -> ApiResult<Response> {
    actor.require_authenticated()?; // before the query is read
    let args = ListArgs::parse(&query, USER_CONNECTION_ORDERING, &DEFAULT_ORDER)?;
    let (filter, errors) = connection_filter(&query, &args);
    let (listed, sources) = service::list_user(&state, &actor, filter, errors, &args.ordering, args.window()).await?;
    let rows = listed
        .rows
        .into_iter()
        .map(|c| Ok(user_connection(c.clone(), summary_of(&sources, c.source)?)))
        .collect::<ApiResult<Vec<_>>>()?;
    args.respond_shaped(listed.total, rows)
}

/// Link a user to a Plex account through a source (needs `add_userplexsourceconnection`).
#[utoipa::path(post, path = "/sources/user_connections/plex/", tag = "sources", request_body = UserPlexSourceConnectionRequest,
    responses((status = 201, body = UserPlexSourceConnection), (status = 400, body = ValidationError), (status = 403, body = GenericError)))]
pub async fn create_user(State(state): State<AppState>, actor: Actor, JsonBody(body): JsonBody) -> ApiResult<Response> {
    let (new, errors) = read_body(&body, false, |body| NewUserConnection {
        user: body.integer("user", true).map(UserId),
        source: body.text("source", Text::REQUIRED),
        identifier: body.text("identifier", Text::REQUIRED),
        plex_token: body.text("plex_token", Text::REQUIRED),
    });
    let (connection, source) = service::create_user(&state, &actor, new, errors).await?;
    Ok(created(&user_connection(connection, source.into())))
}

/// Get a user Plex connection.
#[utoipa::path(get, path = "/sources/user_connections/plex/{id}/", tag = "sources", params(("id" = i64, Path)),
    responses((status = 200, body = UserPlexSourceConnection), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn retrieve_user(State(state): State<AppState>, actor: Actor, Path(id): Path<String>) -> ApiResult<Response> {
    actor.require_authenticated()?;
    let (connection, source) = service::get_user(&state, &actor, user_connection_id(&id)?).await?;
    Ok(ok(&user_connection(connection, source.into())))
}

async fn save_user(state: &AppState, actor: &Actor, id: &str, body: &Value, partial: bool) -> ApiResult<Response> {
    actor.require_authenticated()?;
    let id = user_connection_id(id)?;
    let (changes, errors) = read_body(body, partial, |body| UserConnectionChanges {
        identifier: body.text("identifier", Text::REQUIRED),
        plex_token: body.text("plex_token", Text::REQUIRED),
    });
    let (connection, source) = service::update_user(state, actor, id, changes, errors).await?;
    Ok(ok(&user_connection(connection, source.into())))
}

/// Replace a user Plex connection's identifier (administrators) and token.
#[utoipa::path(put, path = "/sources/user_connections/plex/{id}/", tag = "sources", params(("id" = i64, Path)), request_body = UserPlexSourceConnectionRequest,
    responses((status = 200, body = UserPlexSourceConnection), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn update_user(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    save_user(&state, &actor, &id, &body, false).await
}

/// Change a user Plex connection's identifier (administrators) or token.
#[utoipa::path(patch, path = "/sources/user_connections/plex/{id}/", tag = "sources", params(("id" = i64, Path)), request_body = PatchedUserPlexSourceConnectionRequest,
    responses((status = 200, body = UserPlexSourceConnection), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn partial_update_user(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    save_user(&state, &actor, &id, &body, true).await
}

/// Delete a user Plex connection (your own, or any with delete permission).
#[utoipa::path(delete, path = "/sources/user_connections/plex/{id}/", tag = "sources", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn destroy_user(State(state): State<AppState>, actor: Actor, Path(id): Path<String>) -> ApiResult<Response> {
    actor.require_authenticated()?;
    service::delete_user(&state, &actor, user_connection_id(&id)?).await?;
    Ok(no_content())
}

/// Objects that depend on this connection (none).
#[utoipa::path(get, path = "/sources/user_connections/plex/{id}/used_by/", tag = "sources", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<UsedBy>), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn used_by_user(State(state): State<AppState>, actor: Actor, Path(id): Path<String>) -> ApiResult<Response> {
    actor.require_authenticated()?;
    service::get_user(&state, &actor, user_connection_id(&id)?).await?;
    Ok(ok(&Vec::<UsedBy>::new()))
}

// ---------------------------------------------------------------- group connections

/// List group Plex connections.
#[utoipa::path(get, path = "/sources/group_connections/plex/", tag = "sources",
    params(("group" = Option<Uuid>, Query), ("source__slug" = Option<String>, Query), ("ordering" = Option<String>, Query),
        ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query), ("search" = Option<String>, Query)),
    responses((status = 200, body = PaginatedGroupPlexSourceConnectionList), (status = 400, body = ValidationError), (status = 403, body = GenericError)))]
pub async fn list_group(State(state): State<AppState>, actor: Actor, query: QueryParams) -> ApiResult<Response> {
    actor.require(service::VIEW_GROUP)?; // before the query is read
    let args = ListArgs::parse(&query, GROUP_CONNECTION_ORDERING, &DEFAULT_ORDER)?;
    let (filter, errors) = connection_filter(&query, &args);
    let (listed, sources) = service::list_group(&state, &actor, filter, errors, &args.ordering, args.window()).await?;
    let rows = listed
        .rows
        .into_iter()
        .map(|c| Ok(group_connection(c.clone(), summary_of(&sources, c.source)?)))
        .collect::<ApiResult<Vec<_>>>()?;
    args.respond_shaped(listed.total, rows)
}

/// Link a group to a group identifier of a source (D10).
#[utoipa::path(post, path = "/sources/group_connections/plex/", tag = "sources", request_body = GroupPlexSourceConnectionRequest,
    responses((status = 201, body = GroupPlexSourceConnection), (status = 400, body = ValidationError), (status = 403, body = GenericError)))]
pub async fn create_group(
    State(state): State<AppState>,
    actor: Actor,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    let (new, errors) = read_body(&body, false, |body| NewGroupConnection {
        group: body.required_uuid("group").map(GroupId),
        source: body.text("source", Text::REQUIRED),
        identifier: body.text("identifier", Text::REQUIRED),
    });
    let (connection, source) = service::create_group(&state, &actor, new, errors).await?;
    Ok(created(&group_connection(connection, source.into())))
}

/// Get a group Plex connection.
#[utoipa::path(get, path = "/sources/group_connections/plex/{id}/", tag = "sources", params(("id" = i64, Path)),
    responses((status = 200, body = GroupPlexSourceConnection), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn retrieve_group(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    actor.require(service::VIEW_GROUP)?;
    let (connection, source) = service::get_group(&state, &actor, group_connection_id(&id)?).await?;
    Ok(ok(&group_connection(connection, source.into())))
}

/// Updates a group connection's identifier; as in authentik's schema an empty body is valid
/// (nothing changes), so PUT reads the body like PATCH.
async fn save_group(state: &AppState, actor: &Actor, id: &str, body: &Value) -> ApiResult<Response> {
    actor.require(service::VIEW_GROUP)?;
    let id = group_connection_id(id)?;
    let (identifier, errors) = read_body(body, true, |body| body.text("identifier", Text::REQUIRED));
    let (connection, source) = service::update_group(state, actor, id, identifier, errors).await?;
    Ok(ok(&group_connection(connection, source.into())))
}

/// Update a group Plex connection (`identifier`).
#[utoipa::path(put, path = "/sources/group_connections/plex/{id}/", tag = "sources", params(("id" = i64, Path)), request_body = GroupPlexSourceConnectionRequest,
    responses((status = 200, body = GroupPlexSourceConnection), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn update_group(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    save_group(&state, &actor, &id, &body).await
}

/// Update a group Plex connection (`identifier`).
#[utoipa::path(patch, path = "/sources/group_connections/plex/{id}/", tag = "sources", params(("id" = i64, Path)), request_body = GroupPlexSourceConnectionRequest,
    responses((status = 200, body = GroupPlexSourceConnection), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn partial_update_group(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    save_group(&state, &actor, &id, &body).await
}

/// Delete a group Plex connection.
#[utoipa::path(delete, path = "/sources/group_connections/plex/{id}/", tag = "sources", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn destroy_group(State(state): State<AppState>, actor: Actor, Path(id): Path<String>) -> ApiResult<Response> {
    actor.require(service::VIEW_GROUP)?;
    service::delete_group(&state, &actor, group_connection_id(&id)?).await?;
    Ok(no_content())
}

/// Objects that depend on this connection (none).
#[utoipa::path(get, path = "/sources/group_connections/plex/{id}/used_by/", tag = "sources", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<UsedBy>), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn used_by_group(State(state): State<AppState>, actor: Actor, Path(id): Path<String>) -> ApiResult<Response> {
    actor.require(service::VIEW_GROUP)?;
    service::get_group(&state, &actor, group_connection_id(&id)?).await?;
    Ok(ok(&Vec::<UsedBy>::new()))
}
