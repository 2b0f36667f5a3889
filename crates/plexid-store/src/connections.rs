//! User and group Plex source connections.

use plexid_core::login::Relationship;
use plexid_core::model::{GroupConnection, UserConnection};
use plexid_core::{GroupConnectionId, GroupId, SourceId, Timestamp, UserConnectionId, UserId};

use crate::engine::{Access, Conn, ReadWrite};
use crate::error::StoreResult;
use crate::listing::{Filter, ListQuery, Listed, OrderTerm, Window};
use crate::params;
use crate::row::Row;

#[derive(Clone, Debug, Default)]
pub struct ConnectionFilter {
    /// `user` (user connections) as an id.
    pub user: Option<UserId>,
    /// `group` (group connections).
    pub group: Option<GroupId>,
    pub source_slug: Option<String>,
    /// Only connections of this user (callers without global view permission).
    pub owner: Option<UserId>,
    /// The API's `search`: the source's slug (authentik's search field).
    pub search: Vec<String>,
    /// The admin pages' search: each term in the identifier or the source's slug or name.
    pub lookup: Vec<String>,
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

fn user_from_row(row: &Row) -> StoreResult<UserConnection> {
    Ok(UserConnection {
        id: UserConnectionId(row.int("id")?),
        user: UserId(row.int("user_id")?),
        source: SourceId(row.uuid("source_uuid")?),
        identifier: row.text("identifier")?,
        plex_token: row.text("plex_token")?,
        created: row.timestamp("created")?,
        last_updated: row.timestamp("last_updated")?,
    })
}

fn group_from_row(row: &Row) -> StoreResult<GroupConnection> {
    Ok(GroupConnection {
        id: GroupConnectionId(row.int("id")?),
        group: GroupId(row.uuid("group_uuid")?),
        source: SourceId(row.uuid("source_uuid")?),
        identifier: row.text("identifier")?,
        created: row.timestamp("created")?,
        last_updated: row.timestamp("last_updated")?,
    })
}

/// What the last sign-in or access sweep found for a connection.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConnectionAccess {
    pub relationship: Relationship,
    pub checked: Option<Timestamp>,
    /// When the sweep found access definitely gone (`None` while the account has access).
    pub revoked: Option<Timestamp>,
}

fn access_from_row(row: &Row) -> StoreResult<ConnectionAccess> {
    Ok(ConnectionAccess {
        relationship: row.json("relationship")?,
        checked: row.opt_timestamp("access_checked")?,
        revoked: row.opt_timestamp("access_revoked")?,
    })
}

/// When the filter fixes the source, the asked ordering has its terms on the source dropped
/// (they order nothing) and the source's id put first: the order of the `(source_uuid, id)`
/// index, so the database reads the page straight from it whatever its statistics say (measured
/// on PostgreSQL just after a bulk load: a sort of all 10,000 matching rows, 7 ms, otherwise).
fn ordering_for(filter: &ConnectionFilter, ordering: &[OrderTerm]) -> Vec<OrderTerm> {
    if filter.source_slug.is_none() {
        return ordering.to_vec();
    }
    let rest = ordering.iter().filter(|t| !matches!(t.term, "source" | "source__slug")).copied();
    std::iter::once(OrderTerm::asc("source")).chain(rest).collect()
}

/// The kept count of a source's connections (`source_connection_count`) answers for a filter on
/// the source alone; any other filter is counted.
fn kept_count_applies(filter: &ConnectionFilter) -> Option<&str> {
    let ConnectionFilter { user: None, group: None, source_slug: Some(slug), owner: None, search, lookup } = filter
    else {
        return None;
    };
    (search.is_empty() && lookup.is_empty()).then_some(slug.as_str())
}

fn connection_filter(filter: &ConnectionFilter) -> Filter {
    let mut f = Filter::default();
    f.eq("c.user_id", filter.user);
    f.eq("c.group_uuid", filter.group);
    // By the source's id (one lookup), so the `(source_uuid, id)` index serves the page.
    if let Some(slug) = filter.source_slug.clone() {
        let p = f.bind(slug);
        f.clause(format!("c.source_uuid = (SELECT uuid FROM plex_source WHERE slug = {p})"));
    }
    f.eq("c.user_id", filter.owner);
    f.search(&filter.search, &["s.slug"]);
    f.search(&filter.lookup, &["c.identifier", "s.slug", "s.name"]);
    f
}

impl<A: Access> Conn<'_, A> {
    /// A page of user or group connections (`kind` as in `source_connection_count`).
    async fn list_connections<T>(
        &mut self,
        kind: &str,
        select: &'static str,
        filter: &ConnectionFilter,
        ordering: &[OrderTerm],
        window: Window,
        map: fn(&Row) -> StoreResult<T>,
    ) -> StoreResult<Listed<T>> {
        let query = ListQuery { select, columns: CONNECTION_COLUMNS, tiebreak: "id" };
        let ordering = ordering_for(filter, ordering);
        let Some(slug) = kept_count_applies(filter) else {
            return query.run(self, connection_filter(filter), &ordering, window, map).await;
        };
        let sql = "SELECT COALESCE((SELECT k.n FROM source_connection_count k JOIN plex_source s \
                   ON s.uuid = k.source_uuid WHERE s.slug = $1 AND k.kind = $2), 0) AS n";
        let total = self.fetch_one(sql, params![slug, kind]).await?.int("n")?;
        query.page(self, connection_filter(filter), total.max(0) as u64, &ordering, window, map).await
    }

    pub async fn list_user_connections(
        &mut self,
        filter: &ConnectionFilter,
        ordering: &[OrderTerm],
        window: Window,
    ) -> StoreResult<Listed<UserConnection>> {
        self.list_connections("user", USER_SELECT, filter, ordering, window, user_from_row).await
    }

    pub async fn user_connection(&mut self, id: UserConnectionId) -> StoreResult<Option<UserConnection>> {
        let sql = format!("{USER_SELECT} WHERE c.id = $1");
        self.fetch_optional(&sql, params![id]).await?.as_ref().map(user_from_row).transpose()
    }

    /// The connection of this Plex account to this source, if any.
    pub async fn user_connection_by_identifier(
        &mut self,
        source: SourceId,
        identifier: &str,
    ) -> StoreResult<Option<UserConnection>> {
        let sql = format!("{USER_SELECT} WHERE c.source_uuid = $1 AND c.identifier = $2");
        self.fetch_optional(&sql, params![source, identifier]).await?.as_ref().map(user_from_row).transpose()
    }

    /// The connection of this group identifier to this source, if any.
    pub async fn group_connection_by_identifier(
        &mut self,
        source: SourceId,
        identifier: &str,
    ) -> StoreResult<Option<GroupConnection>> {
        let sql = format!("{GROUP_SELECT} WHERE c.source_uuid = $1 AND c.identifier = $2");
        self.fetch_optional(&sql, params![source, identifier]).await?.as_ref().map(group_from_row).transpose()
    }

    /// The access state of a connection (what the last sign-in or sweep found).
    pub async fn connection_access(&mut self, id: UserConnectionId) -> StoreResult<Option<ConnectionAccess>> {
        Ok(self.connection_access_and_email(id).await?.map(|(access, _)| access))
    }

    /// The connection's access state and the email address plex.tv confirmed for it: what a
    /// returning member's sign-in compares with what it found.
    pub async fn connection_access_and_email(
        &mut self,
        id: UserConnectionId,
    ) -> StoreResult<Option<(ConnectionAccess, String)>> {
        let row = self
            .fetch_optional(
                "SELECT relationship, access_checked, access_revoked, verified_email FROM user_source_connection \
                 WHERE id = $1",
                params![id],
            )
            .await?;
        row.as_ref().map(|r| Ok((access_from_row(r)?, r.text("verified_email")?))).transpose()
    }

    /// Up to `limit` connections of a source with their access state, by id, from the one after
    /// `after` (what the access sweep walks, a page at a time).
    pub async fn connections_of_source(
        &mut self,
        source: SourceId,
        after: Option<UserConnectionId>,
        limit: usize,
    ) -> StoreResult<Vec<(UserConnection, ConnectionAccess)>> {
        let sql = format!(
            "SELECT c.id, c.user_id, c.source_uuid, c.identifier, c.plex_token, c.created, c.last_updated, \
             c.relationship, c.access_checked, c.access_revoked FROM user_source_connection c \
             WHERE c.source_uuid = $1 AND c.id > $2 ORDER BY c.id LIMIT {limit}"
        );
        let rows = self.fetch_all(&sql, params![source, after.map_or(0, |id| id.0)]).await?;
        rows.iter().map(|r| Ok((user_from_row(r)?, access_from_row(r)?))).collect()
    }

    pub async fn list_group_connections(
        &mut self,
        filter: &ConnectionFilter,
        ordering: &[OrderTerm],
        window: Window,
    ) -> StoreResult<Listed<GroupConnection>> {
        self.list_connections("group", GROUP_SELECT, filter, ordering, window, group_from_row).await
    }

    pub async fn group_connection(&mut self, id: GroupConnectionId) -> StoreResult<Option<GroupConnection>> {
        let sql = format!("{GROUP_SELECT} WHERE c.id = $1");
        self.fetch_optional(&sql, params![id]).await?.as_ref().map(group_from_row).transpose()
    }

    /// Connections of a user: (connection, source), for `used_by`.
    pub async fn connections_of_user(&mut self, user: UserId) -> StoreResult<Vec<(UserConnectionId, SourceId)>> {
        let rows = self
            .fetch_all(
                "SELECT id, source_uuid FROM user_source_connection WHERE user_id = $1 ORDER BY id",
                params![user],
            )
            .await?;
        rows.iter().map(|r| Ok((UserConnectionId(r.int("id")?), SourceId(r.uuid("source_uuid")?)))).collect()
    }

    /// Connections of a group: (connection, source), for `used_by`.
    pub async fn connections_of_group(&mut self, group: GroupId) -> StoreResult<Vec<(GroupConnectionId, SourceId)>> {
        let rows = self
            .fetch_all(
                "SELECT id, source_uuid FROM group_source_connection WHERE group_uuid = $1 ORDER BY id",
                params![group],
            )
            .await?;
        rows.iter().map(|r| Ok((GroupConnectionId(r.int("id")?), SourceId(r.uuid("source_uuid")?)))).collect()
    }
}

impl Conn<'_, ReadWrite> {
    /// The connection, locked until the transaction ends.
    pub async fn user_connection_for_update(&mut self, id: UserConnectionId) -> StoreResult<Option<UserConnection>> {
        let sql = format!("{USER_SELECT} WHERE c.id = $1{}", self.dialect().for_update());
        self.fetch_optional(&sql, params![id]).await?.as_ref().map(user_from_row).transpose()
    }

    pub async fn insert_user_connection(&mut self, c: &UserConnection) -> StoreResult<UserConnectionId> {
        let row = self
            .fetch_one(
                "INSERT INTO user_source_connection (user_id, source_uuid, identifier, plex_token, created, last_updated) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                params![c.user, c.source, &c.identifier, &c.plex_token, c.created, c.last_updated],
            )
            .await?;
        Ok(UserConnectionId(row.int("id")?))
    }

    pub async fn update_user_connection(&mut self, c: &UserConnection) -> StoreResult<()> {
        self.execute(
            "UPDATE user_source_connection SET identifier = $2, plex_token = $3, last_updated = $4 WHERE id = $1",
            params![c.id, &c.identifier, &c.plex_token, c.last_updated],
        )
        .await
        .map(drop)
    }

    /// The Plex id and access state of each of the connections `ids` that still exist, locked
    /// until the transaction ends (what the access sweep re-reads before it writes), in one query.
    pub async fn connections_access_for_update(
        &mut self,
        ids: &[UserConnectionId],
    ) -> StoreResult<Vec<(UserConnectionId, String, ConnectionAccess)>> {
        let head = "SELECT id, identifier, relationship, access_checked, access_revoked FROM user_source_connection \
                    WHERE id IN";
        let tail = format!(" ORDER BY id{}", self.dialect().for_update());
        let rows = self.rows_in(head, ids.iter().map(|id| crate::row::Param::from(*id)), &tail).await?;
        rows.iter().map(|r| Ok((UserConnectionId(r.int("id")?), r.text("identifier")?, access_from_row(r)?))).collect()
    }

    /// Marks the connections `ids` checked at `at` (the access sweep's "nothing changed").
    pub async fn touch_connections_checked(&mut self, ids: &[UserConnectionId], at: Timestamp) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut params = crate::params![at];
        let list = crate::listing::bind_list(&mut params, ids.iter().map(|id| crate::row::Param::from(*id)));
        let sql = format!("UPDATE user_source_connection SET access_checked = $1 WHERE id IN ({list})");
        self.execute(&sql, params).await.map(drop)
    }

    pub async fn set_connection_access(&mut self, id: UserConnectionId, access: &ConnectionAccess) -> StoreResult<()> {
        let relationship = serde_json::to_string(&access.relationship).expect("a relationship serialises");
        self.execute(
            "UPDATE user_source_connection SET relationship = $2, access_checked = $3, access_revoked = $4 WHERE id = $1",
            params![id, relationship, access.checked, access.revoked],
        )
        .await
        .map(drop)
    }

    /// Refreshes a connection at a sign-in, in one statement: its identifier, token and time, the
    /// access the rule found and the email address plex.tv confirmed.
    pub async fn refresh_user_connection(
        &mut self,
        c: &UserConnection,
        access: &ConnectionAccess,
        verified_email: &str,
    ) -> StoreResult<()> {
        let relationship = serde_json::to_string(&access.relationship).expect("a relationship serialises");
        self.execute(
            "UPDATE user_source_connection SET identifier = $2, plex_token = $3, last_updated = $4, relationship = $5, \
             access_checked = $6, access_revoked = $7, verified_email = $8 WHERE id = $1",
            params![
                c.id,
                &c.identifier,
                &c.plex_token,
                c.last_updated,
                relationship,
                access.checked,
                access.revoked,
                verified_email
            ],
        )
        .await
        .map(drop)
    }

    /// Records the email address plex.tv confirmed for this connection's Plex account (empty: none).
    pub async fn set_verified_email(&mut self, id: UserConnectionId, email: &str) -> StoreResult<()> {
        self.execute("UPDATE user_source_connection SET verified_email = $2 WHERE id = $1", params![id, email])
            .await
            .map(drop)
    }

    pub async fn delete_user_connection(&mut self, id: UserConnectionId) -> StoreResult<bool> {
        Ok(self.execute("DELETE FROM user_source_connection WHERE id = $1", params![id]).await? > 0)
    }

    /// The connection, locked until the transaction ends.
    pub async fn group_connection_for_update(&mut self, id: GroupConnectionId) -> StoreResult<Option<GroupConnection>> {
        let sql = format!("{GROUP_SELECT} WHERE c.id = $1{}", self.dialect().for_update());
        self.fetch_optional(&sql, params![id]).await?.as_ref().map(group_from_row).transpose()
    }

    pub async fn insert_group_connection(&mut self, c: &GroupConnection) -> StoreResult<GroupConnectionId> {
        let row = self
            .fetch_one(
                "INSERT INTO group_source_connection (group_uuid, source_uuid, identifier, created, last_updated) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
                params![c.group, c.source, &c.identifier, c.created, c.last_updated],
            )
            .await?;
        Ok(GroupConnectionId(row.int("id")?))
    }

    pub async fn update_group_connection(&mut self, c: &GroupConnection) -> StoreResult<()> {
        self.execute(
            "UPDATE group_source_connection SET identifier = $2, last_updated = $3 WHERE id = $1",
            params![c.id, &c.identifier, c.last_updated],
        )
        .await
        .map(drop)
    }

    pub async fn delete_group_connection(&mut self, id: GroupConnectionId) -> StoreResult<bool> {
        Ok(self.execute("DELETE FROM group_source_connection WHERE id = $1", params![id]).await? > 0)
    }
}
