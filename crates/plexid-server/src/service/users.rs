//! Users: create, change (only the fields given, under a row lock, so concurrent changes to other
//! fields are kept), memberships, passwords.

use plexid_core::model::{User, UserChanges};
use plexid_core::permission::{Action, Model};
use plexid_core::{rules, FieldErrors, GroupId, Permission, SourceId, UserConnectionId, UserId};
use plexid_store::groups::Membership;
use plexid_store::listing::{Listed, OrderTerm, Window};
use plexid_store::users::UserFilter;
use plexid_store::{Conn, ReadWrite};

use super::{check, missing_reference, Actor, AppState, ServiceError, ServiceResult};
use crate::crypto::hash_password;

const fn perm(action: Action) -> Permission {
    Permission::new(action, Model::User)
}

/// Seeing users.
pub const VIEW: Permission = perm(Action::View);

pub const FIELD_ORDER: &[&str] =
    &["username", "name", "is_active", "last_login", "groups", "email", "attributes", "path", "type"];

/// A user with the groups they are in.
#[derive(Clone, Debug)]
pub struct UserView {
    pub user: User,
    pub groups: Vec<Membership>,
}

impl UserView {
    pub fn is_superuser(&self) -> bool {
        self.groups.iter().any(|m| m.group.is_superuser)
    }
}

/// A create or update: the user's own fields, and (when given) the groups they should be in.
#[derive(Clone, Debug, Default)]
pub struct UserInput {
    pub changes: UserChanges,
    pub groups: Option<Vec<GroupId>>,
}

/// Users with their groups, in two queries whatever their number.
pub async fn with_groups<A: plexid_store::Access>(
    conn: &mut Conn<'_, A>,
    users: Vec<User>,
) -> ServiceResult<Vec<UserView>> {
    let ids: Vec<UserId> = users.iter().map(|u| u.id).collect();
    let mut memberships = conn.memberships_of_users(&ids).await?;
    Ok(users
        .into_iter()
        .map(|user| {
            let (mine, rest) = memberships.drain(..).partition(|m| m.user == user.id);
            memberships = rest;
            UserView { user, groups: mine }
        })
        .collect())
}

fn apply(mut u: User, c: UserChanges, errors: &mut FieldErrors) -> User {
    if let Some(username) = c.username {
        if !rules::is_username(&username) {
            errors.add("username", rules::BAD_USERNAME);
        }
        u.username = username;
    }
    if let Some(email) = c.email {
        if !email.is_empty() && !rules::is_email(&email) {
            errors.add("email", rules::BAD_EMAIL);
        }
        u.email = email;
    }
    if let Some(path) = c.path {
        if let Some(message) = rules::user_path_error(&path) {
            errors.add("path", message);
        }
        u.path = path;
    }
    macro_rules! take {
        ($($field:ident),*) => {$( if let Some(v) = c.$field { u.$field = v; } )*};
    }
    take!(name, is_active, last_login, attributes, user_type);
    u
}

/// Checks the groups exist and that the actor may change the memberships; then sets them, with
/// an audit event for each group joined or left.
async fn set_groups(
    conn: &mut Conn<'_, ReadWrite>,
    actor: &Actor,
    now: plexid_core::Timestamp,
    user: UserId,
    groups: &[GroupId],
) -> ServiceResult<()> {
    let before: Vec<GroupId> = conn.memberships_of_users(&[user]).await?.into_iter().map(|m| m.group.id).collect();
    let touched: Vec<GroupId> = before
        .iter()
        .filter(|g| !groups.contains(g))
        .chain(groups.iter().filter(|g| !before.contains(g)))
        .copied()
        .collect();
    let touched = conn.groups_by_ids(&touched).await?;
    if !rules::may_change_memberships(actor.is_superuser(), touched.iter().map(|g| g.is_superuser)) {
        return Err(ServiceError::Forbidden);
    }
    conn.set_user_groups(user, groups).await?;
    for group in &touched {
        super::audit::members(conn, actor, now, group, groups.contains(&group.id), &[user]).await?;
    }
    Ok(())
}

async fn check_groups(
    conn: &mut Conn<'_, ReadWrite>,
    groups: Option<&Vec<GroupId>>,
    errors: &mut FieldErrors,
) -> ServiceResult<()> {
    if let Some(groups) = groups {
        let existing = conn.existing_groups(groups).await?;
        missing_reference(errors, "groups", groups, &existing);
    }
    Ok(())
}

pub async fn list(
    app: &AppState,
    actor: &Actor,
    filter: &UserFilter,
    ordering: &[OrderTerm],
    window: Window,
) -> ServiceResult<Listed<UserView>> {
    actor.require(perm(Action::View))?;
    let mut conn = app.store.read();
    let listed = conn.list_users(filter, ordering, window).await?;
    Ok(Listed { total: listed.total, rows: with_groups(&mut conn, listed.rows).await? })
}

async fn stored(app: &AppState, actor: &Actor, id: UserId) -> ServiceResult<User> {
    actor.require(perm(Action::View))?;
    app.store.read().user_by_id(id).await?.ok_or(ServiceError::NotFound)
}

pub async fn get(app: &AppState, actor: &Actor, id: UserId) -> ServiceResult<UserView> {
    let user = stored(app, actor, id).await?;
    with_groups(&mut app.store.read(), vec![user]).await?.pop().ok_or(ServiceError::NotFound)
}

pub async fn create(
    app: &AppState,
    actor: &Actor,
    input: UserInput,
    mut errors: FieldErrors,
) -> ServiceResult<UserView> {
    actor.require(perm(Action::Add))?;
    let user = apply(User::named("", app.clock.now()), input.changes, &mut errors);
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    check_groups(&mut conn, input.groups.as_ref(), &mut errors).await?;
    check(errors, FIELD_ORDER)?;
    let id = conn.insert_user(&user).await?;
    let now = app.clock.now();
    let user = conn.user_by_id(id).await?.ok_or(ServiceError::NotFound)?;
    super::audit::created(&mut conn, actor, now, &user).await?;
    if let Some(groups) = &input.groups {
        set_groups(&mut conn, actor, now, id, groups).await?;
    }
    let view = with_groups(&mut conn, vec![user]).await?.pop().ok_or(ServiceError::NotFound)?;
    tx.commit().await?;
    Ok(view)
}

/// Only a superuser may change a superuser (their details, tokens, sessions and connections):
/// read in the caller's transaction.
pub(crate) async fn guard_target<A: plexid_store::Access>(
    conn: &mut Conn<'_, A>,
    actor: &Actor,
    user: UserId,
) -> ServiceResult<()> {
    if !rules::may_edit_user(actor.is_superuser(), conn.is_superuser(user).await?) {
        return Err(ServiceError::Forbidden);
    }
    Ok(())
}

pub async fn update(
    app: &AppState,
    actor: &Actor,
    id: UserId,
    input: UserInput,
    mut errors: FieldErrors,
) -> ServiceResult<UserView> {
    stored(app, actor, id).await?;
    actor.require(perm(Action::Change))?;
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    let before = conn.user_for_update(id).await?.ok_or(ServiceError::NotFound)?;
    guard_target(&mut conn, actor, id).await?;
    let after = apply(before.clone(), input.changes, &mut errors);
    check_groups(&mut conn, input.groups.as_ref(), &mut errors).await?;
    check(errors, FIELD_ORDER)?;
    let now = app.clock.now();
    let admins = conn.active_superusers().await?;
    if let Some(groups) = &input.groups {
        set_groups(&mut conn, actor, now, id, groups).await?;
    }
    conn.update_user(&before, &after).await?;
    let user = conn.user_by_id(id).await?.ok_or(ServiceError::NotFound)?;
    super::audit::updated(&mut conn, actor, now, &before, &user).await?;
    super::audit::keep_administrators(&mut conn, actor, &admins).await?;
    let view = with_groups(&mut conn, vec![user]).await?.pop().ok_or(ServiceError::NotFound)?;
    tx.commit().await?;
    Ok(view)
}

pub async fn delete(app: &AppState, actor: &Actor, id: UserId) -> ServiceResult<()> {
    let user = stored(app, actor, id).await?;
    actor.require(perm(Action::Delete))?;
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    guard_target(&mut conn, actor, id).await?;
    let admins = conn.active_superusers().await?;
    conn.delete_user(id).await?;
    super::audit::deleted(&mut conn, actor, app.clock.now(), &user).await?;
    super::audit::keep_administrators(&mut conn, actor, &admins).await?;
    tx.commit().await?;
    Ok(())
}

/// Sets a user's password (hashed with argon2, off the async runtime's worker threads).
pub async fn set_password(
    app: &AppState,
    actor: &Actor,
    id: UserId,
    password: Option<String>,
    errors: FieldErrors,
) -> ServiceResult<()> {
    stored(app, actor, id).await?;
    actor.require(perm(Action::Change))?;
    guard_target(&mut app.store.read(), actor, id).await?;
    errors.into_result()?;
    let password = password.unwrap_or_default();
    let hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| ServiceError::Internal(format!("password hashing task: {e}")))?;
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    guard_target(&mut conn, actor, id).await?;
    let before = conn.user_by_id(id).await?.ok_or(ServiceError::NotFound)?;
    conn.set_user_password(id, &hash).await?;
    let after = plexid_core::model::User { password_hash: Some(hash), ..before.clone() };
    super::audit::updated(&mut conn, actor, app.clock.now(), &before, &after).await?;
    tx.commit().await?;
    Ok(())
}

/// What would be deleted with the user, limited to what the actor may view.
pub struct UserUsage {
    pub tokens: Vec<String>,
    pub connections: Vec<(UserConnectionId, SourceId)>,
}

pub async fn usage(app: &AppState, actor: &Actor, id: UserId) -> ServiceResult<(User, UserUsage)> {
    let user = stored(app, actor, id).await?;
    let mut conn = app.store.read();
    let tokens = if actor.can(Permission::new(Action::View, Model::Token)) {
        conn.token_identifiers_of_user(id).await?
    } else {
        Vec::new()
    };
    let connections = if actor.can(Permission::new(Action::View, Model::UserPlexSourceConnection)) {
        conn.connections_of_user(id).await?
    } else {
        Vec::new()
    };
    Ok((user, UserUsage { tokens, connections }))
}

/// The actor's own user and groups.
pub async fn me(app: &AppState, actor: &Actor) -> ServiceResult<UserView> {
    let principal = actor.principal()?;
    let mut conn = app.store.read();
    let user = conn.user_by_id(principal.user).await?.ok_or(ServiceError::NotFound)?;
    with_groups(&mut conn, vec![user]).await?.pop().ok_or(ServiceError::NotFound)
}
