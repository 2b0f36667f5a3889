//! Granting global permissions: `/api/v3/rbac/permissions/assigned_by_users/{id}/assign/` as in
//! authentik, and the same for groups (plexid grants to groups where authentik uses roles).
//! Only superusers may change permissions.

use axum::extract::{Path, State};
use axum::response::Response;
use plexid_core::{Body, FieldErrors, Permission};
use plexid_store::accounts::Grantee;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{lookup, GenericError, ValidationError};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, NO_PERMISSION};
use crate::http::{no_content, ok, JsonBody};
use crate::state::AppState;

/// authentik's `PermissionAssignRequest`. plexid permissions are global: `object_pk` must be absent.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PermissionAssignRequest {
    /// e.g. `authentik_sources_plex.view_plexsource`
    permissions: Vec<String>,
    model: Option<String>,
    object_pk: Option<String>,
}

/// authentik's `PermissionAssignResult`.
#[derive(Serialize, ToSchema)]
pub struct PermissionAssignResult {
    pub id: String,
}

/// The permissions named in the body, or field errors.
fn read_permissions(body: &Value) -> Result<Vec<Permission>, FieldErrors> {
    let mut body = Body::new(body, false)?;
    let names = body.text_list("permissions");
    if body.raw("permissions").is_none() {
        body.errors.add("permissions", plexid_core::validate::REQUIRED);
    }
    if body.raw("object_pk").is_some_and(|v| !v.is_null()) {
        body.errors.add("object_pk", "plexid permissions are global; object permissions are not supported.");
    }
    let mut permissions = Vec::new();
    for name in names.unwrap_or_default() {
        match Permission::parse(&name) {
            Some(permission) => permissions.push(permission),
            None => body.errors.add("permissions", format!("Unknown permission \"{name}\".")),
        }
    }
    body.errors.into_result()?;
    Ok(permissions)
}

/// Grants (`granted`) or revokes the body's permissions of the user or group in the path.
async fn change(
    state: &AppState,
    caller: &Caller,
    grantee: ApiResult<Grantee>,
    body: &Value,
    granted: bool,
) -> ApiResult<Vec<Permission>> {
    if !caller.user()?.is_superuser {
        return Err(ApiError::Forbidden(NO_PERMISSION));
    }
    let grantee = grantee?;
    let permissions = read_permissions(body)?;
    let mut tx = state.store.begin().await?;
    let mut conn = tx.conn();
    let exists = match grantee {
        Grantee::User(id) => conn.user_by_id(id).await?.is_some(),
        Grantee::Group(uuid) => conn.group_by_uuid(uuid).await?.is_some(),
    };
    if !exists {
        return Err(ApiError::NotFound);
    }
    for permission in &permissions {
        conn.set_permission(grantee, &permission.to_string(), granted).await?;
    }
    tx.commit().await?;
    Ok(permissions)
}

fn user(id: &str) -> ApiResult<Grantee> {
    Ok(Grantee::User(lookup(id)?.parse().map_err(|_| ApiError::NotFound)?))
}

fn group(id: &str) -> ApiResult<Grantee> {
    Ok(Grantee::Group(Uuid::parse_str(lookup(id)?).map_err(|_| ApiError::NotFound)?))
}

fn assigned(permissions: Vec<Permission>) -> Response {
    ok(&permissions.iter().map(|p| PermissionAssignResult { id: p.to_string() }).collect::<Vec<_>>())
}

/// Grant global permissions to a user.
#[utoipa::path(post, path = "/rbac/permissions/assigned_by_users/{id}/assign/", tag = "rbac", params(("id" = i64, Path)),
    request_body = PermissionAssignRequest,
    responses((status = 200, body = Vec<PermissionAssignResult>), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn assign_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    Ok(assigned(change(&state, &caller, user(&id), &body, true).await?))
}

/// Revoke global permissions of a user.
#[utoipa::path(patch, path = "/rbac/permissions/assigned_by_users/{id}/unassign/", tag = "rbac", params(("id" = i64, Path)),
    request_body = PermissionAssignRequest,
    responses((status = 204), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn unassign_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    change(&state, &caller, user(&id), &body, false).await?;
    Ok(no_content())
}

/// Grant global permissions to every member of a group.
#[utoipa::path(post, path = "/rbac/permissions/assigned_by_groups/{group_uuid}/assign/", tag = "rbac", params(("group_uuid" = Uuid, Path)),
    request_body = PermissionAssignRequest,
    responses((status = 200, body = Vec<PermissionAssignResult>), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn assign_group(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    Ok(assigned(change(&state, &caller, group(&id), &body, true).await?))
}

/// Revoke global permissions of a group.
#[utoipa::path(patch, path = "/rbac/permissions/assigned_by_groups/{group_uuid}/unassign/", tag = "rbac", params(("group_uuid" = Uuid, Path)),
    request_body = PermissionAssignRequest,
    responses((status = 204), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn unassign_group(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    change(&state, &caller, group(&id), &body, false).await?;
    Ok(no_content())
}
