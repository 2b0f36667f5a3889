//! Granting and revoking global permissions (superusers only).

use plexid_core::{FieldErrors, Permission};
use plexid_store::permissions::Grantee;

use super::{Actor, AppState, ServiceError, ServiceResult};

/// Grants (`granted`) or revokes `permissions` of a user or group.
pub async fn set(
    app: &AppState,
    actor: &Actor,
    grantee: Option<Grantee>,
    permissions: &[Permission],
    errors: FieldErrors,
    granted: bool,
) -> ServiceResult<()> {
    actor.require_authenticated()?;
    if !actor.is_superuser() {
        return Err(ServiceError::Forbidden);
    }
    let grantee = grantee.ok_or(ServiceError::NotFound)?;
    errors.into_result()?;
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    let exists = match grantee {
        Grantee::User(id) => conn.user_by_id(id).await?.is_some(),
        Grantee::Group(id) => conn.group_by_id(id).await?.is_some(),
    };
    if !exists {
        return Err(ServiceError::NotFound);
    }
    for permission in permissions {
        conn.set_permission(grantee, &permission.to_string(), granted).await?;
    }
    tx.commit().await?;
    Ok(())
}
