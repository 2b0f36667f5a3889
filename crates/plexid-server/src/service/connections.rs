//! User and group Plex source connections. Users see and delete their own user connections;
//! everything else follows RBAC (D7). A Plex account is linked to one user per source, and only
//! administrators may change which account a connection holds (D6).
//!
//! A connection signs someone in, so touching one is as strong as editing its user or group
//! (D27, [`rules::may_touch_user_connection`], [`rules::may_touch_group_connection`]): the
//! connection permissions alone reach only ordinary users and groups, with `change_user` /
//! `change_group`; a superuser's connections and a superuser group's only a superuser's.

use plexid_core::model::{GroupConnection, Source, UserConnection, UserConnectionChanges};
use plexid_core::permission::{Action, Model};
use plexid_core::{rules, FieldErrors, GroupConnectionId, GroupId, Permission, SourceId, UserConnectionId, UserId};
use plexid_store::connections::ConnectionFilter;
use plexid_store::listing::{Listed, OrderTerm, Window};
use plexid_store::{Access, Conn, ReadWrite};

use super::{check, sources, Actor, AppState, ServiceError, ServiceResult, UNKNOWN_CHOICE};

const fn user_perm(action: Action) -> Permission {
    Permission::new(action, Model::UserPlexSourceConnection)
}
const fn group_perm(action: Action) -> Permission {
    Permission::new(action, Model::GroupPlexSourceConnection)
}

/// Seeing every user's connections.
pub const VIEW_USER: Permission = user_perm(Action::View);

/// Seeing group connections.
pub const VIEW_GROUP: Permission = group_perm(Action::View);

/// Fails unless the actor may touch a connection that signs `user` in (D27). Read in the
/// caller's transaction, so the superuser flag cannot change between the check and the write.
async fn guard_user(conn: &mut Conn<'_, ReadWrite>, actor: &Actor, user: UserId) -> ServiceResult<()> {
    let target_is_superuser = conn.is_superuser(user).await?;
    let may_change_users = actor.can(Permission::new(Action::Change, Model::User));
    if rules::may_touch_user_connection(
        actor.is_user(user),
        may_change_users,
        actor.is_superuser(),
        target_is_superuser,
    ) {
        Ok(())
    } else {
        Err(ServiceError::Forbidden)
    }
}

/// Fails unless the actor may touch a connection to `group` (D27), read in the caller's
/// transaction. A missing group is left to the caller's validation.
async fn guard_group(conn: &mut Conn<'_, ReadWrite>, actor: &Actor, group: GroupId) -> ServiceResult<()> {
    let Some(group) = conn.group_by_id(group).await? else { return Ok(()) };
    let may_change_groups = actor.can(Permission::new(Action::Change, Model::Group));
    if rules::may_touch_group_connection(may_change_groups, actor.is_superuser(), group.is_superuser) {
        Ok(())
    } else {
        Err(ServiceError::Forbidden)
    }
}

/// The sources of a page of connections, each fetched once.
pub async fn sources_of<A: Access>(
    conn: &mut Conn<'_, A>,
    ids: impl IntoIterator<Item = SourceId>,
) -> ServiceResult<Vec<Source>> {
    let mut unique: Vec<SourceId> = ids.into_iter().collect();
    unique.sort_unstable();
    unique.dedup();
    Ok(conn.sources_by_ids(&unique).await?)
}

/// The `user` and `group` filters must name existing objects (django-filter's check).
async fn check_filter<A: Access>(
    conn: &mut Conn<'_, A>,
    filter: &ConnectionFilter,
    mut errors: FieldErrors,
) -> ServiceResult<()> {
    if let Some(user) = filter.user {
        if conn.existing_users(&[user]).await?.is_empty() {
            errors.add("user", UNKNOWN_CHOICE);
        }
    }
    if let Some(group) = filter.group {
        if conn.existing_groups(&[group]).await?.is_empty() {
            errors.add("group", UNKNOWN_CHOICE);
        }
    }
    Ok(errors.into_result()?)
}

// ---------------------------------------------------------------- user connections

/// Lists user connections: all of them with view permission, else the actor's own.
/// `errors` are the filter errors found while reading the request.
pub async fn list_user(
    app: &AppState,
    actor: &Actor,
    mut filter: ConnectionFilter,
    errors: FieldErrors,
    ordering: &[OrderTerm],
    window: Window,
) -> ServiceResult<(Listed<UserConnection>, Vec<Source>)> {
    let principal = actor.principal()?;
    let mut conn = app.store.read();
    check_filter(&mut conn, &filter, errors).await?;
    filter.owner = (!actor.can(user_perm(Action::View))).then_some(principal.user);
    let listed = conn.list_user_connections(&filter, ordering, window).await?;
    let sources = sources_of(&mut conn, listed.rows.iter().map(|c| c.source)).await?;
    Ok((listed, sources))
}

/// A user connection the actor may see: their own, or any with view permission.
pub async fn get_user(app: &AppState, actor: &Actor, id: UserConnectionId) -> ServiceResult<(UserConnection, Source)> {
    actor.require_authenticated()?;
    let mut conn = app.store.read();
    let connection = conn.user_connection(id).await?.ok_or(ServiceError::NotFound)?;
    if !actor.is_user(connection.user) && !actor.can(user_perm(Action::View)) {
        return Err(ServiceError::NotFound);
    }
    let source = conn.source_by_id(connection.source).await?.ok_or(ServiceError::NotFound)?;
    Ok((connection, source))
}

/// What a new user connection links (D10: the user and the source are named).
#[derive(Default)]
pub struct NewUserConnection {
    pub user: Option<UserId>,
    /// The source's slug or id.
    pub source: Option<String>,
    pub identifier: Option<String>,
    /// In clear text; stored encrypted.
    pub plex_token: Option<String>,
}

pub async fn create_user(
    app: &AppState,
    actor: &Actor,
    new: NewUserConnection,
    mut errors: FieldErrors,
) -> ServiceResult<(UserConnection, Source)> {
    actor.require(user_perm(Action::Add))?;
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    if let Some(id) = new.user {
        if conn.existing_users(&[id]).await?.is_empty() {
            errors.add("user", plexid_core::errors::does_not_exist(id));
        } else {
            guard_user(&mut conn, actor, id).await?;
        }
    }
    let source = match &new.source {
        Some(value) => sources::resolve(&mut conn, value, "source", &mut errors).await?,
        None => None,
    };
    check(errors, &["user", "source", "identifier", "plex_token"])?;
    let (Some(user), Some(source), Some(identifier), Some(token)) = (new.user, source, new.identifier, new.plex_token)
    else {
        return Err(ServiceError::Internal("validated fields missing".into()));
    };
    let now = app.clock.now();
    let mut connection = UserConnection {
        id: UserConnectionId(0),
        user,
        source: source.id,
        identifier,
        plex_token: app.secrets.encrypt(&token),
        created: now,
        last_updated: now,
    };
    connection.id = conn.insert_user_connection(&connection).await?;
    tx.commit().await?;
    Ok((connection, source))
}

/// Changes a connection's token (its owner or an administrator) or Plex account (administrators).
pub async fn update_user(
    app: &AppState,
    actor: &Actor,
    id: UserConnectionId,
    changes: UserConnectionChanges,
    mut errors: FieldErrors,
) -> ServiceResult<(UserConnection, Source)> {
    let (stored, source) = get_user(app, actor, id).await?;
    let is_admin = actor.can(user_perm(Action::Change));
    if !is_admin && !actor.is_user(stored.user) {
        return Err(ServiceError::Forbidden);
    }
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    let mut connection = conn.user_connection_for_update(id).await?.ok_or(ServiceError::NotFound)?;
    guard_user(&mut conn, actor, connection.user).await?;
    if let Some(identifier) = changes.identifier {
        if identifier != connection.identifier && !is_admin {
            errors.add("identifier", "Only an administrator can change the Plex account of a connection.");
        }
        connection.identifier = identifier;
    }
    if let Some(token) = changes.plex_token {
        connection.plex_token = app.secrets.encrypt(&token);
    }
    check(errors, &["identifier", "plex_token"])?;
    connection.last_updated = app.clock.now();
    conn.update_user_connection(&connection).await?;
    tx.commit().await?;
    Ok((connection, source))
}

/// Deletes a connection (its owner, or anyone with delete permission): "Disconnect".
pub async fn delete_user(app: &AppState, actor: &Actor, id: UserConnectionId) -> ServiceResult<()> {
    let (connection, _) = get_user(app, actor, id).await?;
    if !actor.is_user(connection.user) && !actor.can(user_perm(Action::Delete)) {
        return Err(ServiceError::Forbidden);
    }
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    guard_user(&mut conn, actor, connection.user).await?;
    conn.delete_user_connection(connection.id).await?;
    tx.commit().await?;
    Ok(())
}

// ---------------------------------------------------------------- group connections

pub async fn list_group(
    app: &AppState,
    actor: &Actor,
    filter: ConnectionFilter,
    errors: FieldErrors,
    ordering: &[OrderTerm],
    window: Window,
) -> ServiceResult<(Listed<GroupConnection>, Vec<Source>)> {
    actor.require(group_perm(Action::View))?;
    let mut conn = app.store.read();
    check_filter(&mut conn, &filter, errors).await?;
    let listed = conn.list_group_connections(&filter, ordering, window).await?;
    let sources = sources_of(&mut conn, listed.rows.iter().map(|c| c.source)).await?;
    Ok((listed, sources))
}

pub async fn get_group(
    app: &AppState,
    actor: &Actor,
    id: GroupConnectionId,
) -> ServiceResult<(GroupConnection, Source)> {
    actor.require(group_perm(Action::View))?;
    let mut conn = app.store.read();
    let connection = conn.group_connection(id).await?.ok_or(ServiceError::NotFound)?;
    let source = conn.source_by_id(connection.source).await?.ok_or(ServiceError::NotFound)?;
    Ok((connection, source))
}

/// What a new group connection links (D10).
#[derive(Default)]
pub struct NewGroupConnection {
    pub group: Option<GroupId>,
    /// The source's slug or id.
    pub source: Option<String>,
    pub identifier: Option<String>,
}

pub async fn create_group(
    app: &AppState,
    actor: &Actor,
    new: NewGroupConnection,
    mut errors: FieldErrors,
) -> ServiceResult<(GroupConnection, Source)> {
    actor.require(group_perm(Action::Add))?;
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    if let Some(id) = new.group {
        if conn.existing_groups(&[id]).await?.is_empty() {
            errors.add("group", plexid_core::errors::does_not_exist(id));
        } else {
            guard_group(&mut conn, actor, id).await?;
        }
    }
    let source = match &new.source {
        Some(value) => sources::resolve(&mut conn, value, "source", &mut errors).await?,
        None => None,
    };
    check(errors, &["group", "source", "identifier"])?;
    let (Some(group), Some(source), Some(identifier)) = (new.group, source, new.identifier) else {
        return Err(ServiceError::Internal("validated fields missing".into()));
    };
    let now = app.clock.now();
    let mut connection = GroupConnection {
        id: GroupConnectionId(0),
        group,
        source: source.id,
        identifier,
        created: now,
        last_updated: now,
    };
    connection.id = conn.insert_group_connection(&connection).await?;
    tx.commit().await?;
    Ok((connection, source))
}

pub async fn update_group(
    app: &AppState,
    actor: &Actor,
    id: GroupConnectionId,
    identifier: Option<String>,
    errors: FieldErrors,
) -> ServiceResult<(GroupConnection, Source)> {
    let (_, source) = get_group(app, actor, id).await?;
    actor.require(group_perm(Action::Change))?;
    errors.into_result()?;
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    let mut connection = conn.group_connection_for_update(id).await?.ok_or(ServiceError::NotFound)?;
    guard_group(&mut conn, actor, connection.group).await?;
    if let Some(identifier) = identifier {
        connection.identifier = identifier;
    }
    connection.last_updated = app.clock.now();
    conn.update_group_connection(&connection).await?;
    tx.commit().await?;
    Ok((connection, source))
}

pub async fn delete_group(app: &AppState, actor: &Actor, id: GroupConnectionId) -> ServiceResult<()> {
    let (connection, _) = get_group(app, actor, id).await?;
    actor.require(group_perm(Action::Delete))?;
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    guard_group(&mut conn, actor, connection.group).await?;
    conn.delete_group_connection(connection.id).await?;
    tx.commit().await?;
    Ok(())
}
