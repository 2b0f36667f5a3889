//! Groups and their members.

use std::collections::HashMap;

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

/// How much of a group's members to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberDetail {
    /// How many there are.
    Count,
    /// Their ids (authentik's `users`, with `include_users=false`).
    Ids,
    /// The users (authentik's `users_obj`).
    Users,
}

/// A group's members, as much as was asked for.
#[derive(Clone, Debug)]
pub enum Members {
    Count(u64),
    Ids(Vec<UserId>),
    Users(Vec<User>),
}

impl Members {
    pub fn count(&self) -> u64 {
        match self {
            Members::Count(n) => *n,
            Members::Ids(ids) => ids.len() as u64,
            Members::Users(users) => users.len() as u64,
        }
    }

    /// Their ids (empty when only the count was read).
    pub fn ids(&self) -> Vec<UserId> {
        match self {
            Members::Count(_) => Vec::new(),
            Members::Ids(ids) => ids.clone(),
            Members::Users(users) => users.iter().map(|u| u.id).collect(),
        }
    }
}

/// A group with its parent's name and its members.
#[derive(Clone, Debug)]
pub struct GroupView {
    pub group: Group,
    pub parent_name: Option<String>,
    pub members: Members,
}

/// A create or update: the group's own fields, and (when given) its members.
#[derive(Clone, Debug, Default)]
pub struct GroupInput {
    pub changes: GroupChanges,
    pub users: Option<Vec<UserId>>,
}

/// Groups with their parents' names and members (as much as `detail` asks), in three queries
/// whatever their number, joined by group id.
pub async fn with_members<A: Access>(
    conn: &mut Conn<'_, A>,
    groups: Vec<Group>,
    detail: MemberDetail,
) -> ServiceResult<Vec<GroupView>> {
    let ids: Vec<GroupId> = groups.iter().map(|g| g.id).collect();
    let mut members: HashMap<GroupId, Members> = HashMap::new();
    match detail {
        MemberDetail::Count => {
            for (group, n) in conn.member_counts(&ids).await? {
                members.insert(group, Members::Count(n));
            }
        }
        MemberDetail::Ids => {
            for (group, user) in conn.member_ids_of_groups(&ids).await? {
                if let Members::Ids(list) = members.entry(group).or_insert_with(|| Members::Ids(Vec::new())) {
                    list.push(user);
                }
            }
        }
        MemberDetail::Users => {
            for (group, user) in conn.members_of_groups(&ids).await? {
                if let Members::Users(list) = members.entry(group).or_insert_with(|| Members::Users(Vec::new())) {
                    list.push(user);
                }
            }
        }
    }
    let parent_ids: Vec<GroupId> = groups.iter().filter_map(|g| g.parent).collect();
    let parents: HashMap<GroupId, String> =
        conn.groups_by_ids(&parent_ids).await?.into_iter().map(|g| (g.id, g.name)).collect();
    let none = match detail {
        MemberDetail::Count => Members::Count(0),
        MemberDetail::Ids => Members::Ids(Vec::new()),
        MemberDetail::Users => Members::Users(Vec::new()),
    };
    Ok(groups
        .into_iter()
        .map(|group| {
            let parent_name = group.parent.and_then(|p| parents.get(&p).cloned());
            let members = members.remove(&group.id).unwrap_or_else(|| none.clone());
            GroupView { group, parent_name, members }
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

/// Validates and writes a new (`before` None) or changed group, in the caller's transaction,
/// with its audit events; taking administration away must leave administrators (and the
/// actor's own rights).
async fn save(
    conn: &mut Conn<'_, plexid_store::ReadWrite>,
    actor: &Actor,
    now: plexid_core::Timestamp,
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
    let admins = if was_superuser { conn.active_superusers().await? } else { Vec::new() };
    let members_before: Vec<UserId> = match (&before, &input.users) {
        (Some(_), Some(_)) => conn.members_of_groups(&[group.id]).await?.into_iter().map(|(_, u)| u.id).collect(),
        _ => Vec::new(),
    };
    match &before {
        None => {
            conn.insert_group(&group).await?;
            super::audit::created(conn, actor, now, &group).await?;
        }
        Some(before) => {
            conn.update_group(before, &group).await?;
            super::audit::updated(conn, actor, now, before, &group).await?;
        }
    }
    if let Some(users) = &input.users {
        conn.set_group_members(group.id, users).await?;
        let added: Vec<UserId> = users.iter().filter(|u| !members_before.contains(u)).copied().collect();
        let removed: Vec<UserId> = members_before.iter().filter(|u| !users.contains(u)).copied().collect();
        super::audit::members(conn, actor, now, &group, true, &added).await?;
        super::audit::members(conn, actor, now, &group, false, &removed).await?;
    }
    super::audit::keep_administrators(conn, actor, &admins).await?;
    with_members(conn, vec![group], MemberDetail::Users).await?.pop().ok_or(ServiceError::NotFound)
}

pub async fn list(
    app: &AppState,
    actor: &Actor,
    filter: &GroupFilter,
    ordering: &[OrderTerm],
    window: Window,
    detail: MemberDetail,
) -> ServiceResult<Listed<GroupView>> {
    actor.require(perm(Action::View))?;
    let mut conn = app.store.read();
    let listed = conn.list_groups(filter, ordering, window).await?;
    Ok(Listed { total: listed.total, rows: with_members(&mut conn, listed.rows, detail).await? })
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

pub async fn get(app: &AppState, actor: &Actor, id: GroupId, detail: MemberDetail) -> ServiceResult<GroupView> {
    let group = stored(app, actor, id).await?;
    with_members(&mut app.store.read(), vec![group], detail).await?.pop().ok_or(ServiceError::NotFound)
}

/// A page of the group's members, by username (`search`: terms in the username, name or email).
pub async fn members(
    app: &AppState,
    actor: &Actor,
    id: GroupId,
    search: &[String],
    window: Window,
) -> ServiceResult<Listed<User>> {
    stored(app, actor, id).await?;
    Ok(app.store.read().list_group_members(id, search, window).await?)
}

pub async fn create(app: &AppState, actor: &Actor, input: GroupInput, errors: FieldErrors) -> ServiceResult<GroupView> {
    actor.require(perm(Action::Add))?;
    let mut tx = app.store.begin().await?;
    let view = save(&mut tx.conn(), actor, app.clock.now(), None, input, errors).await?;
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
    let view = save(&mut conn, actor, app.clock.now(), Some(before), input, errors).await?;
    tx.commit().await?;
    Ok(view)
}

pub async fn delete(app: &AppState, actor: &Actor, id: GroupId) -> ServiceResult<()> {
    stored(app, actor, id).await?;
    actor.require(perm(Action::Delete))?;
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    // The guard reads the group as it is now, locked: it cannot become a superuser group
    // between the check and the delete.
    let group = conn.group_for_update(id).await?.ok_or(ServiceError::NotFound)?;
    if !rules::may_save_group(actor.is_superuser(), group.is_superuser, false, true) {
        return Err(ServiceError::Forbidden);
    }
    let admins = if group.is_superuser { conn.active_superusers().await? } else { Vec::new() };
    conn.delete_group(id).await?;
    super::audit::deleted(&mut conn, actor, app.clock.now(), &group).await?;
    super::audit::keep_administrators(&mut conn, actor, &admins).await?;
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
    stored(app, actor, id).await?;
    actor.require(perm(Action::Change))?;
    let mut tx = app.store.begin().await?;
    let mut conn = tx.conn();
    let group = conn.group_for_update(id).await?.ok_or(ServiceError::NotFound)?;
    if !rules::may_change_memberships(actor.is_superuser(), [group.is_superuser]) {
        return Err(ServiceError::Forbidden);
    }
    errors.into_result()?;
    let user = conn.user_by_id(user.unwrap_or(UserId(0))).await?.ok_or(ServiceError::NotFound)?;
    let admins = if group.is_superuser && !add { conn.active_superusers().await? } else { Vec::new() };
    let member = conn.memberships_of_users(&[user.id]).await?.iter().any(|m| m.group.id == id);
    if add {
        conn.add_member(id, user.id).await?;
    } else {
        conn.remove_member(id, user.id).await?;
    }
    if member != add {
        super::audit::members(&mut conn, actor, app.clock.now(), &group, add, &[user.id]).await?;
    }
    super::audit::keep_administrators(&mut conn, actor, &admins).await?;
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

/// Makes `user` an administrator in the caller's transaction: a member of `authentik Admins`
/// (or of the first superuser group, made if there is none), with its audit event.
pub(crate) async fn make_administrator(
    conn: &mut Conn<'_, plexid_store::ReadWrite>,
    actor: &Actor,
    now: plexid_core::Timestamp,
    user: UserId,
) -> ServiceResult<()> {
    let filter = GroupFilter { is_superuser: Some(true), ..Default::default() };
    let window = Window::Offset { limit: 50, offset: 0 };
    let supers = conn.list_groups(&filter, &[OrderTerm::asc("name")], window).await?.rows;
    let group = match supers.iter().find(|g| g.name == crate::startup::ADMIN_GROUP).or(supers.first()) {
        Some(group) => group.clone(),
        None => {
            let group = Group { is_superuser: true, ..Group::named(crate::startup::ADMIN_GROUP) };
            conn.insert_group(&group).await?;
            super::audit::created(conn, actor, now, &group).await?;
            group
        }
    };
    conn.add_member(group.id, user).await?;
    super::audit::members(conn, actor, now, &group, true, &[user]).await
}
