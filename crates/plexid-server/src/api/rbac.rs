//! Granting global permissions: `/api/v3/rbac/permissions/assigned_by_users/{id}/assign/` as in
//! authentik, and the same for groups (plexid grants to groups where authentik uses roles).
//! Only superusers may change permissions.

use axum::extract::{Path, State};
use axum::response::Response;
use plexid_core::{FieldErrors, Permission};
use plexid_store::permissions::Grantee;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::drf::Body;
use super::error::ApiResult;
use super::http::{no_content, ok, JsonBody};
use super::{lookup, GenericError, ValidationError};
use crate::service::{permissions as service, Actor};
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

/// The permissions named in the body, and the errors found reading it.
fn read_permissions(body: &Value) -> (Vec<Permission>, FieldErrors) {
    let mut body = match Body::new(body, false) {
        Ok(body) => body,
        Err(errors) => return (Vec::new(), errors),
    };
    let names = body.text_list("permissions");
    if body.raw("permissions").is_none() {
        body.errors.add("permissions", super::drf::body::REQUIRED);
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
    (permissions, body.errors)
}

/// Grants (`granted`) or revokes the body's permissions of the user or group in the path.
async fn change(
    state: &AppState,
    actor: &Actor,
    grantee: Option<Grantee>,
    body: &Value,
    granted: bool,
) -> ApiResult<Vec<Permission>> {
    let (permissions, errors) = read_permissions(body);
    service::set(state, actor, grantee, &permissions, errors, granted).await?;
    Ok(permissions)
}

fn user(id: &str) -> Option<Grantee> {
    lookup(id).ok()?.parse().ok().map(Grantee::User)
}

fn group(id: &str) -> Option<Grantee> {
    lookup(id).ok()?.parse().ok().map(Grantee::Group)
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
    actor: Actor,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    Ok(assigned(change(&state, &actor, user(&id), &body, true).await?))
}

/// Revoke global permissions of a user.
#[utoipa::path(patch, path = "/rbac/permissions/assigned_by_users/{id}/unassign/", tag = "rbac", params(("id" = i64, Path)),
    request_body = PermissionAssignRequest,
    responses((status = 204), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn unassign_user(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    change(&state, &actor, user(&id), &body, false).await?;
    Ok(no_content())
}

/// Grant global permissions to every member of a group.
#[utoipa::path(post, path = "/rbac/permissions/assigned_by_groups/{group_uuid}/assign/", tag = "rbac", params(("group_uuid" = Uuid, Path)),
    request_body = PermissionAssignRequest,
    responses((status = 200, body = Vec<PermissionAssignResult>), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn assign_group(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    Ok(assigned(change(&state, &actor, group(&id), &body, true).await?))
}

/// Revoke global permissions of a group.
#[utoipa::path(patch, path = "/rbac/permissions/assigned_by_groups/{group_uuid}/unassign/", tag = "rbac", params(("group_uuid" = Uuid, Path)),
    request_body = PermissionAssignRequest,
    responses((status = 204), (status = 400, body = ValidationError), (status = 403, body = GenericError), (status = 404, body = GenericError)))]
pub async fn unassign_group(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Response> {
    change(&state, &actor, group(&id), &body, false).await?;
    Ok(no_content())
}
