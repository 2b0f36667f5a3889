//! Global permissions held by users and groups, by their authentik names.

use plexid_core::{GroupId, UserId};

use crate::engine::{Access, Conn, ReadWrite};
use crate::error::StoreResult;
use crate::params;
use crate::row::Param;

/// Who holds a permission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grantee {
    User(UserId),
    Group(GroupId),
}

impl<A: Access> Conn<'_, A> {
    /// Global permissions a user holds directly or through their groups.
    pub async fn user_permissions(&mut self, user: UserId) -> StoreResult<Vec<String>> {
        let rows = self
            .fetch_all(
                "SELECT permission FROM user_permission WHERE user_id = $1 UNION \
                 SELECT gp.permission FROM group_permission gp JOIN group_member gm ON gm.group_uuid = gp.group_uuid \
                 WHERE gm.user_id = $1",
                params![user],
            )
            .await?;
        rows.iter().map(|r| r.text("permission")).collect()
    }
}

impl Conn<'_, ReadWrite> {
    /// Grants (`granted`) or revokes a global permission, by its authentik name.
    pub async fn set_permission(&mut self, grantee: Grantee, permission: &str, granted: bool) -> StoreResult<()> {
        let (table, column, key) = match grantee {
            Grantee::User(id) => ("user_permission", "user_id", Param::from(id)),
            Grantee::Group(id) => ("group_permission", "group_uuid", Param::from(id)),
        };
        let sql = if granted {
            format!("INSERT INTO {table} ({column}, permission) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        } else {
            format!("DELETE FROM {table} WHERE {column} = $1 AND permission = $2")
        };
        self.execute(&sql, vec![key, Param::from(permission)]).await.map(drop)
    }
}
