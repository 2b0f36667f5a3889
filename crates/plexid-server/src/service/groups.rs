//! Groups and their members.

use plexid_core::model::{Group, GroupChanges, User};
use plexid_core::permission::{Action, Model};
use plexid_core::{
    errors::does_not_exist, rules, FieldErrors, GroupConnectionId, GroupId, Permission, SourceId, UserId,
};
use plexid_store::groups::GroupFilter;
use plexid_store::listing::{Listed, OrderTerm, Window};
use plexid_store::{Access, Conn};

use super::{check, missing_reference, Actor, AppState, ServiceError, ServiceResult};

const fn perm(action: Action) -> Permission {
    Permission::new(action, Model::Group)
}

/// Seeing groups.
pub const VIEW: Permission = perm(Action::View);

pub const FIELD_ORDER: &[&str] = &["name", "is_superuser", "parent", "users", "attributes"];

/// A group with its parent's name and its members.
#[derive(Clone, Debug)]
pub struct GroupView {
    pub group: Group,
    pub parent_name: Option<String>,
    pub members: Vec<User>,
}

/// A create or update: the group's own fields, and (when given) its members.
#[derive(Clone, Debug, Default)]
pub struct GroupInput {
    pub changes: GroupChanges,
    pub users: Option<Vec<UserId>>,
}

/// Groups with their parents' names and members, in three queries whatever their number.
pub async fn with_members<A: Access>(conn: &mut Conn<'_, A>, groups: Vec<Group>) -> ServiceResult<Vec<GroupView>> {
    let ids: Vec<GroupId> = groups.iter().map(|g| g.id).collect();
    let mut members = conn.members_of_groups(&ids).await?;
    let parent_ids: Vec<GroupId> = groups.iter().filter_map(|g| g.parent).collect();
    let parents = conn.groups_by_ids(&parent_ids).await?;
    Ok(groups
        .into_iter()
        .map(|group| {
            let (mine, rest): (Vec<_>, Vec<_>) = members.drain(..).partition(|(g, _)| *g == group.id);
            members = rest;
            let parent_name = group.parent.and_then(|p| parents.iter().find(|g| g.id == p).map(|g| g.name.clone()));
            GroupView { group, parent_name, members: mine.into_iter().map(|(_, u)| u).collect() }
        })
        .collect())
}

fn apply(mut g: Group, c: GroupChanges) -> Group {
    macro_rules! take {
        ($($field:ident),*) => {$( if let Some(v) = c.$field { g.$field = v; } )*};
    }
    take!(name, is_superuser, parent, attributes);
    g
}

/// How deep groups may be nested (a group, its parent, its parent's parent, …).
pub const MAX_DEPTH: i64 = 20;
pub const PARENT_CYCLE: &str = "Cannot set group as parent of itself or of one of its own subgroups.";

/// Why `group` cannot have `parent`: a cycle, or a chain deeper than [`MAX_DEPTH`].
async fn nesting_problem(
    conn: &mut Conn<'_, plexid_store::ReadWrite>,
    group: GroupId,
    parent: GroupId,
) -> ServiceResult<Option<String>> {
    let ancestors = conn.group_ancestors(parent, MAX_DEPTH + 1).await?;
    if ancestors.contains(&group) {
        return Ok(Some(PARENT_CYCLE.to_owned()));
    }
    let height = conn.group_height(group, MAX_DEPTH + 1).await?;
    if ancestors.len() as i64 + 1 + height > MAX_DEPTH {
        return Ok(Some(format!("Groups can be nested at most {MAX_DEPTH} deep.")));
    }
    Ok(None)
}

/// Validates and writes a new (`before` None) or changed group, in the caller's transaction.
async fn save(
    conn: &mut Conn<'_, plexid_store::ReadWrite>,
    actor: &Actor,
    before: Option<Group>,
    input: GroupInput,
    mut errors: FieldErrors,
) -> ServiceResult<GroupView> {
    let was_superuser = before.as_ref().is_some_and(|g| g.is_superuser);
    let group = apply(before.clone().unwrap_or_else(|| Group::named("")), input.changes);
    if let Some(parent) = group.parent {
        if conn.existing_groups(&[parent]).await?.is_empty() {
            errors.add("parent", does_not_exist(parent));
        } else if let Some(problem) = nesting_problem(conn, group.id, parent).await? {
            errors.add("parent", problem);
        }
    }
    if let Some(users) = &input.users {
        let existing = conn.existing_users(users).await?;
        missing_reference(&mut errors, "users", users, &existing);
    }
    check(errors, FIELD_ORDER)?;
    if !rules::may_save_group(actor.is_superuser(), was_superuser, group.is_superuser, input.users.is_some()) {
        return Err(ServiceError::Forbidden);
    }
    match &before {
        None => conn.insert_group(&group).await?,
        Some(before) => conn.update_group(before, &group).await?,
    }
    if let Some(users) = &input.users {
        conn.set_group_members(group.id, users).await?;
    }
    with_members(conn, vec![group]).await?.pop().ok_or(ServiceError::NotFound)
}

pub async fn list(
    app: &AppState,
    actor: &Actor,
    filter: &GroupFilter,
    ordering: &[OrderTerm],
    window: Window,
) -> ServiceResult<Listed<GroupView>> {
    actor.require(perm(Action::View))?;
    let mut conn = app.store.read();
    let listed = conn.list_groups(filter, ordering, window).await?;
    Ok(Listed { total: listed.total, rows: with_members(&mut conn, listed.rows).await? })
}

/// Up to `limit` groups by name, without their members (the pages' group pickers).
pub async fn by_name(app: &AppState, actor: &Actor, limit: u64) -> ServiceResult<Vec<Group>> {
    actor.require(perm(Action::View))?;
    let window = Window::Offset { limit, offset: 0 };
    Ok(app.store.read().list_groups(&GroupFilter::default(), &[OrderTerm::asc("name")], window).await?.rows)
}

async fn stored(app: &AppState, actor: &Actor, id: GroupId) -> ServiceResult<Group> {
    actor.require(perm(Action::View))?;
    app.store.read().group_by_id(id).await?.ok_or(ServiceError::NotFound)
}

pub async fn get(app: &AppState, actor: &Actor, id: GroupId) -> ServiceResult<GroupView> {
    let group = stored(app, actor, id).await?;
    with_members(&mut app.store.read(), vec![group]).await?.pop().ok_or(ServiceError::NotFound)
}

pub async fn create(app: &AppState, actor: &Actor, input: GroupInput, errors: FieldErrors) -> ServiceResult<GroupView> {
    actor.require(perm(Action::Add))?;
    let mut tx = app.store.begin().await?;
    let view = save(&mut tx.conn(), actor, None, input, errors).await?;
    tx.commit().await?;
    Ok(view)
}

pub async fn update(
    app: &AppState,
    actor: &Actor,
    id: GroupId,
    input: GroupInput,
    errors: FieldErrors,
) -> ServiceResult<GroupView> {
    stored(app, actor, id).await?;
    actor.require(perm(Action::Change))?;
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    let before = conn.group_for_update(id).await?.ok_or(ServiceError::NotFound)?;
    let view = save(&mut conn, actor, Some(before), input, errors).await?;
    tx.commit().await?;
    Ok(view)
}

pub async fn delete(app: &AppState, actor: &Actor, id: GroupId) -> ServiceResult<()> {
    let group = stored(app, actor, id).await?;
    actor.require(perm(Action::Delete))?;
    if !rules::may_save_group(actor.is_superuser(), group.is_superuser, false, true) {
        return Err(ServiceError::Forbidden);
    }
    let mut tx = app.store.begin().await?;
    tx.conn().delete_group(id).await?;
    tx.commit().await?;
    Ok(())
}

/// Adds (`add`) or removes a member.
pub async fn change_membership(
    app: &AppState,
    actor: &Actor,
    id: GroupId,
    user: Option<UserId>,
    errors: FieldErrors,
    add: bool,
) -> ServiceResult<()> {
    let group = stored(app, actor, id).await?;
    actor.require(perm(Action::Change))?;
    if !rules::may_change_memberships(actor.is_superuser(), [group.is_superuser]) {
        return Err(ServiceError::Forbidden);
    }
    errors.into_result()?;
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    let user = conn.user_by_id(user.unwrap_or(UserId(0))).await?.ok_or(ServiceError::NotFound)?;
    if add {
        conn.add_member(id, user.id).await?;
    } else {
        conn.remove_member(id, user.id).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// What would be deleted with the group (its source connections, if the actor may view them).
pub async fn usage(app: &AppState, actor: &Actor, id: GroupId) -> ServiceResult<Vec<(GroupConnectionId, SourceId)>> {
    let group = stored(app, actor, id).await?;
    if !actor.can(Permission::new(Action::View, Model::GroupPlexSourceConnection)) {
        return Ok(Vec::new());
    }
    Ok(app.store.read().connections_of_group(group.id).await?)
}
