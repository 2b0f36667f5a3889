//! User and group Plex source connections.

use uuid::Uuid;

use crate::db::{Conn, Row};
use crate::error::StoreResult;
use crate::listing::{Filter, ListQuery, Listed, Window};
use crate::params;
use plexid_core::listing::OrderTerm;

/// A user's link to a Plex account through a source. `plex_token` is encrypted.
#[derive(Clone, Debug, PartialEq)]
pub struct UserConnectionRecord {
    pub id: i64,
    pub user_id: i64,
    pub source_uuid: Uuid,
    pub identifier: String,
    pub plex_token: String,
    pub created: i64,
    pub last_updated: i64,
}

/// A group's link to a group identifier of a source.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupConnectionRecord {
    pub id: i64,
    pub group_uuid: Uuid,
    pub source_uuid: Uuid,
    pub identifier: String,
    pub created: i64,
    pub last_updated: i64,
}

#[derive(Clone, Debug, Default)]
pub struct ConnectionFilter {
    /// `user` (user connections) as an id.
    pub user: Option<i64>,
    /// `group` (group connections).
    pub group: Option<Uuid>,
    pub source_slug: Option<String>,
    /// Only connections of this user (callers without global view permission).
    pub owner: Option<i64>,
    pub search: Vec<String>,
}

pub const USER_CONNECTION_ORDERING: &[&str] = &["pk", "user", "source", "created", "identifier", "source__slug"];
pub const GROUP_CONNECTION_ORDERING: &[&str] = &["pk", "group", "source", "created", "identifier", "source__slug"];

/// Ordering terms whose column has another name (the others are their own column).
const CONNECTION_COLUMNS: &[(&str, &str)] = &[
    ("pk", "id"),
    ("user", "user_id"),
    ("group", "group_uuid"),
    ("source", "source_uuid"),
    ("source__slug", "source_slug"),
];

const USER_SELECT: &str = "SELECT c.id, c.user_id, c.source_uuid, c.identifier, c.plex_token, c.created, c.last_updated, \
                           s.slug AS source_slug FROM user_source_connection c JOIN plex_source s ON s.uuid = c.source_uuid";
const GROUP_SELECT: &str = "SELECT c.id, c.group_uuid, c.source_uuid, c.identifier, c.created, c.last_updated, \
                            s.slug AS source_slug FROM group_source_connection c JOIN plex_source s ON s.uuid = c.source_uuid";

fn user_from_row(row: &Row) -> StoreResult<UserConnectionRecord> {
    Ok(UserConnectionRecord {
        id: row.int("id")?,
        user_id: row.int("user_id")?,
        source_uuid: row.uuid("source_uuid")?,
        identifier: row.text("identifier")?,
        plex_token: row.text("plex_token")?,
        created: row.int("created")?,
        last_updated: row.int("last_updated")?,
    })
}

fn group_from_row(row: &Row) -> StoreResult<GroupConnectionRecord> {
    Ok(GroupConnectionRecord {
        id: row.int("id")?,
        group_uuid: row.uuid("group_uuid")?,
        source_uuid: row.uuid("source_uuid")?,
        identifier: row.text("identifier")?,
        created: row.int("created")?,
        last_updated: row.int("last_updated")?,
    })
}

fn connection_filter(filter: &ConnectionFilter) -> Filter {
    let mut f = Filter::default();
    f.eq("c.user_id", filter.user);
    f.eq("c.group_uuid", filter.group);
    f.eq("s.slug", filter.source_slug.clone());
    f.eq("c.user_id", filter.owner);
    f.search(&filter.search, &["s.slug"]);
    f
}

impl Conn<'_> {
    pub async fn list_user_connections(
        &mut self,
        filter: &ConnectionFilter,
        ordering: &[OrderTerm],
        window: Window,
    ) -> StoreResult<Listed<UserConnectionRecord>> {
        let query = ListQuery { select: USER_SELECT, columns: CONNECTION_COLUMNS, tiebreak: "id" };
        query.run(self, connection_filter(filter), ordering, window, user_from_row).await
    }

    pub async fn user_connection(&mut self, id: i64) -> StoreResult<Option<UserConnectionRecord>> {
        let sql = format!("{USER_SELECT} WHERE c.id = $1");
        self.fetch_optional(&sql, params![id]).await?.as_ref().map(user_from_row).transpose()
    }

    pub async fn insert_user_connection(&mut self, c: &UserConnectionRecord) -> StoreResult<i64> {
        let row = self
            .fetch_one(
                "INSERT INTO user_source_connection (user_id, source_uuid, identifier, plex_token, created, last_updated) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                params![c.user_id, c.source_uuid, c.identifier.clone(), c.plex_token.clone(), c.created, c.last_updated],
            )
            .await?;
        row.int("id")
    }

    pub async fn update_user_connection(&mut self, c: &UserConnectionRecord) -> StoreResult<()> {
        self.execute(
            "UPDATE user_source_connection SET identifier = $2, plex_token = $3, last_updated = $4 WHERE id = $1",
            params![c.id, c.identifier.clone(), c.plex_token.clone(), c.last_updated],
        )
        .await
        .map(drop)
    }

    pub async fn delete_user_connection(&mut self, id: i64) -> StoreResult<bool> {
        Ok(self.execute("DELETE FROM user_source_connection WHERE id = $1", params![id]).await? > 0)
    }

    pub async fn list_group_connections(
        &mut self,
        filter: &ConnectionFilter,
        ordering: &[OrderTerm],
        window: Window,
    ) -> StoreResult<Listed<GroupConnectionRecord>> {
        let query = ListQuery { select: GROUP_SELECT, columns: CONNECTION_COLUMNS, tiebreak: "id" };
        query.run(self, connection_filter(filter), ordering, window, group_from_row).await
    }

    pub async fn group_connection(&mut self, id: i64) -> StoreResult<Option<GroupConnectionRecord>> {
        let sql = format!("{GROUP_SELECT} WHERE c.id = $1");
        self.fetch_optional(&sql, params![id]).await?.as_ref().map(group_from_row).transpose()
    }

    pub async fn insert_group_connection(&mut self, c: &GroupConnectionRecord) -> StoreResult<i64> {
        let row = self
            .fetch_one(
                "INSERT INTO group_source_connection (group_uuid, source_uuid, identifier, created, last_updated) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
                params![c.group_uuid, c.source_uuid, c.identifier.clone(), c.created, c.last_updated],
            )
            .await?;
        row.int("id")
    }

    pub async fn update_group_connection(&mut self, c: &GroupConnectionRecord) -> StoreResult<()> {
        self.execute(
            "UPDATE group_source_connection SET identifier = $2, last_updated = $3 WHERE id = $1",
            params![c.id, c.identifier.clone(), c.last_updated],
        )
        .await
        .map(drop)
    }

    pub async fn delete_group_connection(&mut self, id: i64) -> StoreResult<bool> {
        Ok(self.execute("DELETE FROM group_source_connection WHERE id = $1", params![id]).await? > 0)
    }

    /// Connections of a user: (connection id, source uuid), for `used_by`.
    pub async fn connections_of_user(&mut self, user_id: i64) -> StoreResult<Vec<(i64, Uuid)>> {
        let rows = self
            .fetch_all(
                "SELECT id, source_uuid FROM user_source_connection WHERE user_id = $1 ORDER BY id",
                params![user_id],
            )
            .await?;
        rows.iter().map(|r| Ok((r.int("id")?, r.uuid("source_uuid")?))).collect()
    }

    /// Connections of a group: (connection id, source uuid), for `used_by`.
    pub async fn connections_of_group(&mut self, group: Uuid) -> StoreResult<Vec<(i64, Uuid)>> {
        let rows = self
            .fetch_all(
                "SELECT id, source_uuid FROM group_source_connection WHERE group_uuid = $1 ORDER BY id",
                params![group],
            )
            .await?;
        rows.iter().map(|r| Ok((r.int("id")?, r.uuid("source_uuid")?))).collect()
    }
}
