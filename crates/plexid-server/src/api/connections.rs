//! `/api/v3/sources/user_connections/plex/` and `/api/v3/sources/group_connections/plex/`.
//! Users see and delete their own user connections; everything else follows RBAC (D7). Creating
//! a connection names the user or group and the source (D10); a Plex account can be linked to one
//! user per source only, and only administrators may change which account a connection holds (D6).

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::response::Response;
use plexid_core::listing::UNKNOWN_CHOICE;
use plexid_core::permission::{Action, Model};
use plexid_core::validate::{does_not_exist, Text};
use plexid_core::{Body, FieldErrors};
use plexid_store::connections::{
    ConnectionFilter, GroupConnectionRecord, UserConnectionRecord, GROUP_CONNECTION_ORDERING, USER_CONNECTION_ORDERING,
};
use plexid_store::Conn;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::sources::{resolve_source, SourceSummary};
use super::{asc, lookup, paginated_schema, uuid_filter, GenericError, ListArgs, UsedBy, ValidationError};
use crate::auth::{Caller, Principal};
use crate::clock::{iso8601, now_micros};
use crate::error::{ApiError, ApiResult, NO_PERMISSION};
use crate::http::{created, no_content, ok, JsonBody, QueryParams};
use crate::state::AppState;

const USER_MODEL: Model = Model::UserPlexSourceConnection;
const GROUP_MODEL: Model = Model::GroupPlexSourceConnection;
const DEFAULT_ORDER: [plexid_core::listing::OrderTerm; 2] = [asc("source__slug"), asc("pk")];

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

/// The nested sources of a page of connections, fetched once per distinct source.
async fn summaries(conn: &mut Conn<'_>, sources: &[Uuid]) -> ApiResult<HashMap<Uuid, SourceSummary>> {
    let mut unique = sources.to_vec();
    unique.sort_unstable();
    unique.dedup();
    Ok(conn.sources_by_uuids(&unique).await?.into_iter().map(|s| (s.uuid, SourceSummary::from(s))).collect())
}

fn source_of(summaries: &HashMap<Uuid, SourceSummary>, uuid: Uuid) -> ApiResult<SourceSummary> {
    summaries.get(&uuid).cloned().ok_or_else(|| ApiError::Internal(format!("connection to missing source {uuid}")))
}

async fn shape_user_connections(
    conn: &mut Conn<'_>,
    rows: Vec<UserConnectionRecord>,
) -> ApiResult<Vec<UserPlexSourceConnection>> {
    let sources = summaries(conn, &rows.iter().map(|c| c.source_uuid).collect::<Vec<_>>()).await?;
    rows.into_iter()
        .map(|c| {
            Ok(UserPlexSourceConnection {
                pk: c.id,
                user: c.user_id,
                source: source_of(&sources, c.source_uuid)?,
                created: iso8601(c.created),
                identifier: c.identifier,
            })
        })
        .collect()
}

async fn shape_group_connections(
    conn: &mut Conn<'_>,
    rows: Vec<GroupConnectionRecord>,
) -> ApiResult<Vec<GroupPlexSourceConnection>> {
    let sources = summaries(conn, &rows.iter().map(|c| c.source_uuid).collect::<Vec<_>>()).await?;
    rows.into_iter()
        .map(|c| {
            Ok(GroupPlexSourceConnection {
                pk: c.id,
                group: c.group_uuid,
                source: source_of(&sources, c.source_uuid)?,
                identifier: c.identifier,
                created: iso8601(c.created),
            })
        })
        .collect()
}

fn parse_id(id: &str) -> ApiResult<i64> {
    lookup(id)?.parse().map_err(|_| ApiError::NotFound)
}

/// `source__slug` and the `user`/`group` filters, checked like django-filter.
async fn connection_filter(conn: &mut Conn<'_>, query: &QueryParams, args: &ListArgs) -> ApiResult<ConnectionFilter> {
    let mut errors = FieldErrors::default();
    let user = match query.filter("user") {
        None => None,
        Some(value) => match value.parse::<i64>() {
            Ok(id) if !conn.existing_users(&[id]).await?.is_empty() => Some(id),
            _ => {
                errors.add("user", UNKNOWN_CHOICE);
                None
            }
        },
    };
    let group = uuid_filter(query, "group", &mut errors);
    if let Some(id) = group {
        if conn.existing_groups(&[id]).await?.is_empty() {
            errors.add("group", UNKNOWN_CHOICE);
        }
    }
    errors.into_result()?;
    Ok(ConnectionFilter {
        user,
        group,
        source_slug: query.filter("source__slug").map(str::to_owned),
        owner: None,
        search: args.search.clone(),
    })
}

// ---------------------------------------------------------------- user connections

/// A user connection the caller may see: their own, or any with view permission.
async fn visible_user_connection(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> ApiResult<(UserConnectionRecord, Principal)> {
    let principal = caller.user()?.clone();
    let connection = state.store.conn().user_connection(parse_id(id)?).await?.ok_or(ApiError::NotFound)?;
    if connection.user_id != principal.user_id && !caller.can(Action::View, USER_MODEL) {
        return Err(ApiError::NotFound);
    }
    Ok((connection, principal))
}

/// List user Plex connections (your own, or all with view permission).
#[utoipa::path(get, path = "/sources/user_connections/plex/", tag = "sources",
    params(("user" = Option<i64>, Query), ("source__slug" = Option<String>, Query), ("ordering" = Option<String>, Query),
        ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query), ("search" = Option<String>, Query)),
    responses((status = 200, body = PaginatedUserPlexSourceConnectionList), (status = 400, body = ValidationError), (status = 403, body = GenericError)))]
pub async fn list_user(State(state): State<AppState>, caller: Caller, query: QueryParams) -> ApiResult<Response> {
    let principal = caller.user()?;
    let args = ListArgs::parse(&query, USER_CONNECTION_ORDERING, &DEFAULT_ORDER)?;
    let mut conn = state.store.conn();
    let mut filter = connection_filter(&mut conn, &query, &args).await?;
    filter.owner = (!caller.can(Action::View, USER_MODEL)).then_some(principal.user_id);
    let listed = conn.list_user_connections(&filter, &args.ordering, args.window()).await?;
    let total = listed.total;
    let rows = shape_user_connections(&mut conn, listed.rows).await?;
    args.respond_shaped(total, rows)
}

/// Link a user to a Plex account through a source (needs `add_userplexsourceconnection`).
#[utoipa::path(post, path = "/sources/user_connections/plex/", tag = "sources", request_body = UserPlexSourceConnectionRequest,
    responses((status = 201, body = UserPlexSourceConnection), (status = 400, body = ValidationError), (status = 403, body = GenericError)))]
pub async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    caller.require(Action::Add, USER_MODEL)?;
    let mut body = Body::new(&body, false)?;
    let user = body.integer("user", true);
    let source = body.text("source", Text::REQUIRED);
    let identifier = body.text("identifier", Text::REQUIRED);
    let token = body.text("plex_token", Text::REQUIRED);
    let mut errors = body.errors;
    let mut tx = state.store.begin().await?;
    let mut conn = tx.conn();
    if let Some(id) = user {
        if conn.existing_users(&[id]).await?.is_empty() {
            errors.add("user", does_not_exist(id));
        }
    }
    let source = match &source {
        Some(value) => resolve_source(&mut conn, value, "source", &mut errors).await?,
        None => None,
    };
    errors.sort_by(&["user", "source", "identifier", "plex_token"]);
    errors.into_result()?;
    let (Some(user), Some(source), Some(identifier), Some(token)) = (user, source, identifier, token) else {
        return Err(ApiError::Internal("validated fields missing".into()));
    };
    let now = now_micros();
    let mut record = UserConnectionRecord {
        id: 0,
        user_id: user,
        source_uuid: source.uuid,
        identifier,
        plex_token: state.secrets.encrypt(&token),
        created: now,
        last_updated: now,
    };
    record.id = conn.insert_user_connection(&record).await?;
    let shaped = shape_user_connections(&mut conn, vec![record]).await?;
    tx.commit().await?;
    Ok(created(&shaped[0]))
}

/// Get a user Plex connection.
#[utoipa::path(get, path = "/sources/user_connections/plex/{id}/", tag = "sources", params(("id" = i64, Path)),
    responses((status = 200, body = UserPlexSourceConnection), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn retrieve_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (connection, _) = visible_user_connection(&state, &caller, &id).await?;
    Ok(ok(&shape_user_connections(&mut state.store.conn(), vec![connection]).await?[0]))
}

async fn save_user(state: &AppState, caller: &Caller, id: &str, body: &Value, partial: bool) -> ApiResult<Response> {
    let (mut connection, principal) = visible_user_connection(state, caller, id).await?;
    let is_admin = caller.can(Action::Change, USER_MODEL);
    if !is_admin && connection.user_id != principal.user_id {
        return Err(ApiError::Forbidden(NO_PERMISSION));
    }
    let mut body = Body::new(body, partial)?;
    if let Some(identifier) = body.text("identifier", Text::REQUIRED) {
        if identifier != connection.identifier && !is_admin {
            body.errors.add("identifier", "Only an administrator can change the Plex account of a connection.");
        }
        connection.identifier = identifier;
    }
    if let Some(token) = body.text("plex_token", Text::REQUIRED) {
        connection.plex_token = state.secrets.encrypt(&token);
    }
    body.errors.into_result()?;
    connection.last_updated = now_micros();
    let mut tx = state.store.begin().await?;
    let mut conn = tx.conn();
    conn.update_user_connection(&connection).await?;
    let shaped = shape_user_connections(&mut conn, vec![connection]).await?;
    tx.commit().await?;
    Ok(ok(&shaped[0]))
}

/// Replace a user Plex connection's identifier (administrators) and token.
#[utoipa::path(put, path = "/sources/user_connections/plex/{id}/", tag = "sources", params(("id" = i64, Path)), request_body = UserPlexSourceConnectionRequest,
    responses((status = 200, body = UserPlexSourceConnection), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn update_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    save_user(&state, &caller, &id, &body, false).await
}

/// Change a user Plex connection's identifier (administrators) or token.
#[utoipa::path(patch, path = "/sources/user_connections/plex/{id}/", tag = "sources", params(("id" = i64, Path)), request_body = UserPlexSourceConnectionRequest,
    responses((status = 200, body = UserPlexSourceConnection), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn partial_update_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    save_user(&state, &caller, &id, &body, true).await
}

/// Delete a user Plex connection (your own, or any with delete permission).
#[utoipa::path(delete, path = "/sources/user_connections/plex/{id}/", tag = "sources", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn destroy_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (connection, principal) = visible_user_connection(&state, &caller, &id).await?;
    if connection.user_id != principal.user_id && !caller.can(Action::Delete, USER_MODEL) {
        return Err(ApiError::Forbidden(NO_PERMISSION));
    }
    let mut tx = state.store.begin().await?;
    tx.conn().delete_user_connection(connection.id).await?;
    tx.commit().await?;
    Ok(no_content())
}

/// Objects that depend on this connection (none).
#[utoipa::path(get, path = "/sources/user_connections/plex/{id}/used_by/", tag = "sources", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<UsedBy>), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn used_by_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    visible_user_connection(&state, &caller, &id).await?;
    Ok(ok(&Vec::<UsedBy>::new()))
}

// ---------------------------------------------------------------- group connections

async fn visible_group_connection(state: &AppState, caller: &Caller, id: &str) -> ApiResult<GroupConnectionRecord> {
    caller.require(Action::View, GROUP_MODEL)?;
    state.store.conn().group_connection(parse_id(id)?).await?.ok_or(ApiError::NotFound)
}

/// List group Plex connections.
#[utoipa::path(get, path = "/sources/group_connections/plex/", tag = "sources",
    params(("group" = Option<Uuid>, Query), ("source__slug" = Option<String>, Query), ("ordering" = Option<String>, Query),
        ("page" = Option<i64>, Query), ("page_size" = Option<i64>, Query), ("search" = Option<String>, Query)),
    responses((status = 200, body = PaginatedGroupPlexSourceConnectionList), (status = 400, body = ValidationError), (status = 403, body = GenericError)))]
pub async fn list_group(State(state): State<AppState>, caller: Caller, query: QueryParams) -> ApiResult<Response> {
    caller.require(Action::View, GROUP_MODEL)?;
    let args = ListArgs::parse(&query, GROUP_CONNECTION_ORDERING, &DEFAULT_ORDER)?;
    let mut conn = state.store.conn();
    let filter = connection_filter(&mut conn, &query, &args).await?;
    let listed = conn.list_group_connections(&filter, &args.ordering, args.window()).await?;
    let total = listed.total;
    let rows = shape_group_connections(&mut conn, listed.rows).await?;
    args.respond_shaped(total, rows)
}

/// Link a group to a group identifier of a source (D10).
#[utoipa::path(post, path = "/sources/group_connections/plex/", tag = "sources", request_body = GroupPlexSourceConnectionRequest,
    responses((status = 201, body = GroupPlexSourceConnection), (status = 400, body = ValidationError), (status = 403, body = GenericError)))]
pub async fn create_group(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    caller.require(Action::Add, GROUP_MODEL)?;
    let mut body = Body::new(&body, false)?;
    let group = body.required_uuid("group");
    let source = body.text("source", Text::REQUIRED);
    let identifier = body.text("identifier", Text::REQUIRED);
    let mut errors = body.errors;
    let mut tx = state.store.begin().await?;
    let mut conn = tx.conn();
    if let Some(id) = group {
        if conn.existing_groups(&[id]).await?.is_empty() {
            errors.add("group", does_not_exist(id));
        }
    }
    let source = match &source {
        Some(value) => resolve_source(&mut conn, value, "source", &mut errors).await?,
        None => None,
    };
    errors.sort_by(&["group", "source", "identifier"]);
    errors.into_result()?;
    let (Some(group), Some(source), Some(identifier)) = (group, source, identifier) else {
        return Err(ApiError::Internal("validated fields missing".into()));
    };
    let now = now_micros();
    let mut record = GroupConnectionRecord {
        id: 0,
        group_uuid: group,
        source_uuid: source.uuid,
        identifier,
        created: now,
        last_updated: now,
    };
    record.id = conn.insert_group_connection(&record).await?;
    let shaped = shape_group_connections(&mut conn, vec![record]).await?;
    tx.commit().await?;
    Ok(created(&shaped[0]))
}

/// Get a group Plex connection.
#[utoipa::path(get, path = "/sources/group_connections/plex/{id}/", tag = "sources", params(("id" = i64, Path)),
    responses((status = 200, body = GroupPlexSourceConnection), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn retrieve_group(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let connection = visible_group_connection(&state, &caller, &id).await?;
    Ok(ok(&shape_group_connections(&mut state.store.conn(), vec![connection]).await?[0]))
}

/// Updates a group connection's identifier; as in authentik's schema an empty body is valid
/// (nothing changes), so PUT reads the body like PATCH.
async fn save_group(state: &AppState, caller: &Caller, id: &str, body: &Value) -> ApiResult<Response> {
    let mut connection = visible_group_connection(state, caller, id).await?;
    caller.require(Action::Change, GROUP_MODEL)?;
    let mut body = Body::new(body, true)?;
    if let Some(identifier) = body.text("identifier", Text::REQUIRED) {
        connection.identifier = identifier;
    }
    body.errors.into_result()?;
    connection.last_updated = now_micros();
    let mut tx = state.store.begin().await?;
    let mut conn = tx.conn();
    conn.update_group_connection(&connection).await?;
    let shaped = shape_group_connections(&mut conn, vec![connection]).await?;
    tx.commit().await?;
    Ok(ok(&shaped[0]))
}

/// Update a group Plex connection (`identifier`).
#[utoipa::path(put, path = "/sources/group_connections/plex/{id}/", tag = "sources", params(("id" = i64, Path)), request_body = GroupPlexSourceConnectionRequest,
    responses((status = 200, body = GroupPlexSourceConnection), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn update_group(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    save_group(&state, &caller, &id, &body).await
}

/// Update a group Plex connection (`identifier`).
#[utoipa::path(patch, path = "/sources/group_connections/plex/{id}/", tag = "sources", params(("id" = i64, Path)), request_body = GroupPlexSourceConnectionRequest,
    responses((status = 200, body = GroupPlexSourceConnection), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn partial_update_group(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    save_group(&state, &caller, &id, &body).await
}

/// Delete a group Plex connection.
#[utoipa::path(delete, path = "/sources/group_connections/plex/{id}/", tag = "sources", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn destroy_group(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let connection = visible_group_connection(&state, &caller, &id).await?;
    caller.require(Action::Delete, GROUP_MODEL)?;
    let mut tx = state.store.begin().await?;
    tx.conn().delete_group_connection(connection.id).await?;
    tx.commit().await?;
    Ok(no_content())
}

/// Objects that depend on this connection (none).
#[utoipa::path(get, path = "/sources/group_connections/plex/{id}/used_by/", tag = "sources", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<UsedBy>), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn used_by_group(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    visible_group_connection(&state, &caller, &id).await?;
    Ok(ok(&Vec::<UsedBy>::new()))
}
