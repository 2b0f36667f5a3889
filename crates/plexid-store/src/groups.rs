//! Groups and their members.

use plexid_core::model::{Group, User};
use plexid_core::{GroupId, SourceId, UserId};

use crate::engine::{Access, Conn, ReadWrite};
use crate::error::StoreResult;
use crate::listing::{diff, Assignments, Filter, ListQuery, Listed, OrderTerm, Window};
use crate::params;
use crate::row::{Param, Row};
use crate::users::{json_text, COLUMNS as USER_COLUMNS};

const SELECT: &str = "SELECT g.uuid, g.name, g.is_superuser, g.parent, g.attributes FROM app_group g";

pub(crate) fn from_row(row: &Row) -> StoreResult<Group> {
    Ok(Group {
        id: GroupId(row.uuid("uuid")?),
        name: row.text("name")?,
        is_superuser: row.boolean("is_superuser")?,
        parent: row.opt_uuid("parent")?.map(GroupId),
        attributes: row.json("attributes")?,
    })
}

#[derive(Clone, Debug, Default)]
pub struct GroupFilter {
    pub name: Option<String>,
    pub is_superuser: Option<bool>,
    pub search: Vec<String>,
}

pub const GROUP_ORDERING: &[&str] = &["pk", "name", "is_superuser"];

/// Ordering terms whose column has another name (the others are their own column).
const ORDER_COLUMNS: &[(&str, &str)] = &[("pk", "uuid")];

/// A group a user is in, with its parent's name (what a user's representation nests).
#[derive(Clone, Debug, PartialEq)]
pub struct Membership {
    pub user: UserId,
    pub group: Group,
    pub parent_name: Option<String>,
}

impl<A: Access> Conn<'_, A> {
    pub async fn group_by_id(&mut self, id: GroupId) -> StoreResult<Option<Group>> {
        let sql = format!("{SELECT} WHERE g.uuid = $1");
        self.fetch_optional(&sql, params![id]).await?.as_ref().map(from_row).transpose()
    }

    /// The first group with this name (by id), for bootstrap.
    pub async fn group_by_name(&mut self, name: &str) -> StoreResult<Option<Group>> {
        let sql = format!("{SELECT} WHERE g.name = $1 ORDER BY g.uuid LIMIT 1");
        self.fetch_optional(&sql, params![name]).await?.as_ref().map(from_row).transpose()
    }

    pub async fn groups_by_ids(&mut self, ids: &[GroupId]) -> StoreResult<Vec<Group>> {
        let rows =
            self.rows_in(&format!("{SELECT} WHERE g.uuid IN"), ids.iter().map(|id| Param::from(*id)), "").await?;
        rows.iter().map(from_row).collect()
    }

    /// Which of `ids` are groups.
    pub async fn existing_groups(&mut self, ids: &[GroupId]) -> StoreResult<Vec<GroupId>> {
        let rows = self.existing("app_group", ids.iter().map(|id| Param::from(*id)).collect()).await?;
        rows.iter().map(|r| Ok(GroupId(r.uuid("uuid")?))).collect()
    }

    pub async fn list_groups(
        &mut self,
        filter: &GroupFilter,
        ordering: &[OrderTerm],
        window: Window,
    ) -> StoreResult<Listed<Group>> {
        let mut f = Filter::default();
        f.eq("name", filter.name.clone());
        f.eq("is_superuser", filter.is_superuser);
        f.search(&filter.search, &["name"]);
        ListQuery { select: SELECT, columns: ORDER_COLUMNS, tiebreak: "uuid" }
            .run(self, f, ordering, window, from_row)
            .await
    }

    /// The groups of each of these users with their parents' names, in one query.
    pub async fn memberships_of_users(&mut self, users: &[UserId]) -> StoreResult<Vec<Membership>> {
        let head = "SELECT gm.user_id, g.uuid, g.name, g.is_superuser, g.parent, g.attributes, p.name AS parent_name \
                    FROM group_member gm JOIN app_group g ON g.uuid = gm.group_uuid \
                    LEFT JOIN app_group p ON p.uuid = g.parent WHERE gm.user_id IN";
        let rows = self.rows_in(head, users.iter().map(|id| Param::from(*id)), " ORDER BY g.name, g.uuid").await?;
        rows.iter()
            .map(|r| {
                Ok(Membership {
                    user: UserId(r.int("user_id")?),
                    group: from_row(r)?,
                    parent_name: r.opt_text("parent_name")?,
                })
            })
            .collect()
    }

    /// The members of each of these groups: (group, user), by user id.
    pub async fn members_of_groups(&mut self, groups: &[GroupId]) -> StoreResult<Vec<(GroupId, User)>> {
        let head = format!(
            "SELECT gm.group_uuid, {USER_COLUMNS} FROM group_member gm JOIN app_user u ON u.id = gm.user_id \
             WHERE gm.group_uuid IN"
        );
        let rows = self.rows_in(&head, groups.iter().map(|id| Param::from(*id)), " ORDER BY u.id").await?;
        rows.iter().map(|r| Ok((GroupId(r.uuid("group_uuid")?), crate::users::from_row(r)?))).collect()
    }

    /// The member ids of each of these groups: (group, user), by user id.
    pub async fn member_ids_of_groups(&mut self, groups: &[GroupId]) -> StoreResult<Vec<(GroupId, UserId)>> {
        let head = "SELECT group_uuid, user_id FROM group_member WHERE group_uuid IN";
        let rows = self.rows_in(head, groups.iter().map(|id| Param::from(*id)), " ORDER BY user_id").await?;
        rows.iter().map(|r| Ok((GroupId(r.uuid("group_uuid")?), UserId(r.int("user_id")?)))).collect()
    }

    /// How many members each of these groups has (groups without members are left out).
    pub async fn member_counts(&mut self, groups: &[GroupId]) -> StoreResult<Vec<(GroupId, u64)>> {
        let head = "SELECT group_uuid, COUNT(*) AS n FROM group_member WHERE group_uuid IN";
        let rows = self.rows_in(head, groups.iter().map(|id| Param::from(*id)), " GROUP BY group_uuid").await?;
        rows.iter().map(|r| Ok((GroupId(r.uuid("group_uuid")?), r.int("n")? as u64))).collect()
    }

    /// A page of a group's members, by username; every `search` term must appear in the
    /// username, name or email.
    pub async fn list_group_members(
        &mut self,
        group: GroupId,
        search: &[String],
        window: Window,
    ) -> StoreResult<Listed<User>> {
        let select = format!("SELECT {USER_COLUMNS} FROM group_member gm JOIN app_user u ON u.id = gm.user_id");
        let mut f = Filter::default();
        f.eq("gm.group_uuid", Some(group));
        f.search(search, &["u.username", "u.name", "u.email"]);
        ListQuery { select: &select, columns: &[], tiebreak: "id" }
            .run(self, f, &[OrderTerm::asc("username")], window, crate::users::from_row)
            .await
    }

    /// `start` and its ancestors, nearest first (at most `limit` of them; a cycle stops there).
    pub async fn group_ancestors(&mut self, start: GroupId, limit: i64) -> StoreResult<Vec<GroupId>> {
        let rows = self
            .fetch_all(
                "WITH RECURSIVE chain (uuid, parent, depth) AS ( \
                   SELECT uuid, parent, CAST(1 AS BIGINT) FROM app_group WHERE uuid = $1 \
                   UNION ALL SELECT g.uuid, g.parent, c.depth + 1 FROM app_group g JOIN chain c ON g.uuid = c.parent \
                   WHERE c.depth < $2) \
                 SELECT uuid FROM chain ORDER BY depth",
                params![start, limit],
            )
            .await?;
        rows.iter().map(|r| Ok(GroupId(r.uuid("uuid")?))).collect()
    }

    /// How many levels of groups hang below `id` (0: none), counted up to `limit`.
    pub async fn group_height(&mut self, id: GroupId, limit: i64) -> StoreResult<i64> {
        let row = self
            .fetch_one(
                "WITH RECURSIVE below (uuid, depth) AS ( \
                   SELECT uuid, CAST(1 AS BIGINT) FROM app_group WHERE parent = $1 \
                   UNION ALL SELECT g.uuid, b.depth + 1 FROM app_group g JOIN below b ON g.parent = b.uuid \
                   WHERE b.depth < $2) \
                 SELECT COALESCE(MAX(depth), 0) AS height FROM below",
                params![id, limit],
            )
            .await?;
        row.int("height")
    }

    /// Every group called `name` (any parent), with whether it is a superuser group.
    pub async fn groups_named(&mut self, name: &str) -> StoreResult<Vec<plexid_core::login::NamedGroup>> {
        let rows = self
            .fetch_all("SELECT uuid, is_superuser FROM app_group WHERE name = $1 ORDER BY uuid", params![name])
            .await?;
        rows.iter()
            .map(|r| {
                Ok(plexid_core::login::NamedGroup {
                    group: GroupId(r.uuid("uuid")?),
                    is_superuser: r.boolean("is_superuser")?,
                })
            })
            .collect()
    }

    /// Is the user a member of a superuser group?
    pub async fn is_superuser(&mut self, user: UserId) -> StoreResult<bool> {
        let row = self
            .fetch_one(
                "SELECT EXISTS (SELECT 1 FROM group_member gm JOIN app_group g ON g.uuid = gm.group_uuid \
                 WHERE gm.user_id = $1 AND g.is_superuser) AS s",
                params![user],
            )
            .await?;
        row.boolean("s")
    }

    /// The active users who are superusers (members of a superuser group), by id.
    pub async fn active_superusers(&mut self) -> StoreResult<Vec<UserId>> {
        let rows = self
            .fetch_all(
                "SELECT DISTINCT u.id FROM app_user u JOIN group_member gm ON gm.user_id = u.id \
                 JOIN app_group g ON g.uuid = gm.group_uuid WHERE g.is_superuser AND u.is_active ORDER BY u.id",
                vec![],
            )
            .await?;
        rows.iter().map(|r| Ok(UserId(r.int("id")?))).collect()
    }
}

impl Conn<'_, ReadWrite> {
    /// The group, locked until the transaction ends.
    pub async fn group_for_update(&mut self, id: GroupId) -> StoreResult<Option<Group>> {
        let sql = format!("{SELECT} WHERE g.uuid = $1{}", self.dialect().for_update());
        self.fetch_optional(&sql, params![id]).await?.as_ref().map(from_row).transpose()
    }

    pub async fn insert_group(&mut self, g: &Group) -> StoreResult<()> {
        self.execute(
            "INSERT INTO app_group (uuid, name, is_superuser, parent, attributes) VALUES ($1, $2, $3, $4, $5)",
            params![g.id, &g.name, g.is_superuser, g.parent, json_text(&g.attributes)],
        )
        .await
        .map(drop)
    }

    /// Writes the fields in which `after` differs from `before`.
    pub async fn update_group(&mut self, before: &Group, after: &Group) -> StoreResult<()> {
        let mut set = Assignments::default();
        set.set("name", diff(&before.name, &after.name));
        set.set("is_superuser", diff(&before.is_superuser, &after.is_superuser));
        set.set("parent", diff(&before.parent, &after.parent));
        set.set("attributes", (before.attributes != after.attributes).then(|| json_text(&after.attributes)));
        set.apply(self, "app_group", "uuid", after.id).await.map(drop)
    }

    pub async fn delete_group(&mut self, id: GroupId) -> StoreResult<bool> {
        Ok(self.execute("DELETE FROM app_group WHERE uuid = $1", params![id]).await? > 0)
    }

    /// Adds the user to the group; already a member is fine.
    pub async fn add_member(&mut self, group: GroupId, user: UserId) -> StoreResult<()> {
        self.execute(
            "INSERT INTO group_member (group_uuid, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            params![group, user],
        )
        .await
        .map(drop)
    }

    pub async fn remove_member(&mut self, group: GroupId, user: UserId) -> StoreResult<()> {
        self.execute("DELETE FROM group_member WHERE group_uuid = $1 AND user_id = $2", params![group, user])
            .await
            .map(drop)
    }

    /// The groups connected to `source` that the user is a member of.
    pub async fn source_groups_of_user(&mut self, user: UserId, source: SourceId) -> StoreResult<Vec<GroupId>> {
        let rows = self
            .fetch_all(
                "SELECT gm.group_uuid FROM group_member gm WHERE gm.user_id = $1 AND gm.group_uuid IN \
                 (SELECT group_uuid FROM group_source_connection WHERE source_uuid = $2)",
                params![user, source],
            )
            .await?;
        rows.iter().map(|r| Ok(GroupId(r.uuid("group_uuid")?))).collect()
    }

    /// Replaces a user's group memberships.
    pub async fn set_user_groups(&mut self, user: UserId, groups: &[GroupId]) -> StoreResult<()> {
        self.execute("DELETE FROM group_member WHERE user_id = $1", params![user]).await?;
        for group in groups {
            self.add_member(*group, user).await?;
        }
        Ok(())
    }

    /// Replaces a group's members.
    pub async fn set_group_members(&mut self, group: GroupId, users: &[UserId]) -> StoreResult<()> {
        self.execute("DELETE FROM group_member WHERE group_uuid = $1", params![group]).await?;
        for user in users {
            self.add_member(group, *user).await?;
        }
        Ok(())
    }
}
