//! Granting global permissions: `/api/v3/rbac/permissions/assigned_by_users/{id}/assign/` as in
//! authentik, and the same for groups (plexid grants to groups where authentik uses roles).
//! Only superusers may change permissions.

use axum::extract::{Path, State};
use axum::response::Response;
use plexid_core::{Body, FieldErrors, Permission};
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

fn superuser(caller: &Caller) -> ApiResult<()> {
    if caller.user()?.is_superuser {
        Ok(())
    } else {
        Err(ApiError::Forbidden(NO_PERMISSION))
    }
}

fn user_id(id: &str) -> ApiResult<i64> {
    lookup(id)?.parse().map_err(|_| ApiError::NotFound)
}

fn group_id(id: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(lookup(id)?).map_err(|_| ApiError::NotFound)
}

/// Grant global permissions to a user.
#[utoipa::path(post, path = "/rbac/permissions/assigned_by_users/{id}/assign/", tag = "rbac", params(("id" = i64, Path)),
    request_body = PermissionAssignRequest,
    responses((status = 200, body = Vec<PermissionAssignResult>), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn assign_user(State(state): State<AppState>, caller: Caller, Path(id): Path<String>, JsonBody(body): JsonBody) -> ApiResult<Response> {
    superuser(&caller)?;
    let id = user_id(&id)?;
    let permissions = read_permissions(&body)?;
    let mut tx = state.store.begin().await?;
    let mut conn = tx.conn();
    conn.user_by_id(id).await?.ok_or(ApiError::NotFound)?;
    for permission in &permissions {
        conn.grant_user_permission(id, &permission.to_string()).await?;
    }
    tx.commit().await?;
    Ok(ok(&permissions.iter().map(|p| PermissionAssignResult { id: p.to_string() }).collect::<Vec<_>>()))
}

/// Revoke global permissions of a user.
#[utoipa::path(patch, path = "/rbac/permissions/assigned_by_users/{id}/unassign/", tag = "rbac", params(("id" = i64, Path)),
    request_body = PermissionAssignRequest,
    responses((status = 204), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn unassign_user(State(state): State<AppState>, caller: Caller, Path(id): Path<String>, JsonBody(body): JsonBody) -> ApiResult<Response> {
    superuser(&caller)?;
    let id = user_id(&id)?;
    let permissions = read_permissions(&body)?;
    let mut tx = state.store.begin().await?;
    let mut conn = tx.conn();
    conn.user_by_id(id).await?.ok_or(ApiError::NotFound)?;
    for permission in &permissions {
        conn.revoke_user_permission(id, &permission.to_string()).await?;
    }
    tx.commit().await?;
    Ok(no_content())
}

/// Grant global permissions to every member of a group.
#[utoipa::path(post, path = "/rbac/permissions/assigned_by_groups/{group_uuid}/assign/", tag = "rbac", params(("group_uuid" = Uuid, Path)),
    request_body = PermissionAssignRequest,
    responses((status = 200, body = Vec<PermissionAssignResult>), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn assign_group(State(state): State<AppState>, caller: Caller, Path(id): Path<String>, JsonBody(body): JsonBody) -> ApiResult<Response> {
    superuser(&caller)?;
    let id = group_id(&id)?;
    let permissions = read_permissions(&body)?;
    let mut tx = state.store.begin().await?;
    let mut conn = tx.conn();
    conn.group_by_uuid(id).await?.ok_or(ApiError::NotFound)?;
    for permission in &permissions {
        conn.grant_group_permission(id, &permission.to_string()).await?;
    }
    tx.commit().await?;
    Ok(ok(&permissions.iter().map(|p| PermissionAssignResult { id: p.to_string() }).collect::<Vec<_>>()))
}

/// Revoke global permissions of a group.
#[utoipa::path(patch, path = "/rbac/permissions/assigned_by_groups/{group_uuid}/unassign/", tag = "rbac", params(("group_uuid" = Uuid, Path)),
    request_body = PermissionAssignRequest,
    responses((status = 204), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn unassign_group(State(state): State<AppState>, caller: Caller, Path(id): Path<String>, JsonBody(body): JsonBody) -> ApiResult<Response> {
    superuser(&caller)?;
    let id = group_id(&id)?;
    let permissions = read_permissions(&body)?;
    let mut tx = state.store.begin().await?;
    let mut conn = tx.conn();
    conn.group_by_uuid(id).await?.ok_or(ApiError::NotFound)?;
    for permission in &permissions {
        conn.revoke_group_permission(id, &permission.to_string()).await?;
    }
    tx.commit().await?;
    Ok(no_content())
}
