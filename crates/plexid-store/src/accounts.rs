//! Users, groups, memberships, permissions, API tokens and settings.

use uuid::Uuid;

use crate::db::{Conn, Row};
use crate::error::StoreResult;
use crate::params;

#[derive(Clone, Debug, PartialEq)]
pub struct UserRecord {
    pub id: i64,
    pub uuid: Uuid,
    pub username: String,
    pub name: String,
    pub email: String,
    pub is_active: bool,
    pub path: String,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub last_login: Option<i64>,
    pub date_joined: i64,
    pub password_hash: Option<String>,
}

/// A user about to be created (the database assigns the id).
#[derive(Clone, Debug, PartialEq)]
pub struct NewUser {
    pub uuid: Uuid,
    pub username: String,
    pub name: String,
    pub email: String,
    pub is_active: bool,
    pub path: String,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub date_joined: i64,
    pub password_hash: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct GroupRecord {
    pub uuid: Uuid,
    pub name: String,
    pub is_superuser: bool,
    pub parent: Option<Uuid>,
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct TokenRecord {
    pub identifier: String,
    pub key_hash: String,
    pub key_encrypted: String,
    pub user_id: i64,
    pub intent: String,
    pub description: String,
    pub expiring: bool,
    pub expires: Option<i64>,
    pub managed: Option<String>,
}

/// Who an API token belongs to, and whether it may be used.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenOwner {
    pub user_id: i64,
    pub username: String,
    pub user_active: bool,
    pub is_superuser: bool,
    pub intent: String,
    pub expiring: bool,
    pub expires: Option<i64>,
}

const USER_SELECT: &str = "SELECT id, uuid, username, name, email, is_active, path, attributes, last_login, \
                           date_joined, password_hash FROM app_user";

pub(crate) fn user_from_row(row: &Row) -> StoreResult<UserRecord> {
    Ok(UserRecord {
        id: row.int("id")?,
        uuid: row.uuid("uuid")?,
        username: row.text("username")?,
        name: row.text("name")?,
        email: row.text("email")?,
        is_active: row.boolean("is_active")?,
        path: row.text("path")?,
        attributes: row.json("attributes")?,
        last_login: row.opt_int("last_login")?,
        date_joined: row.int("date_joined")?,
        password_hash: row.opt_text("password_hash")?,
    })
}

const GROUP_SELECT: &str = "SELECT uuid, name, is_superuser, parent, attributes FROM app_group";

pub(crate) fn group_from_row(row: &Row) -> StoreResult<GroupRecord> {
    Ok(GroupRecord {
        uuid: row.uuid("uuid")?,
        name: row.text("name")?,
        is_superuser: row.boolean("is_superuser")?,
        parent: row.opt_uuid("parent")?,
        attributes: row.json("attributes")?,
    })
}

fn json_text(map: &serde_json::Map<String, serde_json::Value>) -> String {
    serde_json::Value::Object(map.clone()).to_string()
}

impl Conn<'_> {
    pub async fn user_by_id(&mut self, id: i64) -> StoreResult<Option<UserRecord>> {
        let sql = format!("{USER_SELECT} WHERE id = $1");
        self.fetch_optional(&sql, params![id]).await?.as_ref().map(user_from_row).transpose()
    }

    pub async fn user_by_username(&mut self, username: &str) -> StoreResult<Option<UserRecord>> {
        let sql = format!("{USER_SELECT} WHERE username = $1");
        self.fetch_optional(&sql, params![username]).await?.as_ref().map(user_from_row).transpose()
    }

    pub async fn insert_user(&mut self, u: &NewUser) -> StoreResult<i64> {
        let row = self
            .fetch_one(
                "INSERT INTO app_user (uuid, username, name, email, is_active, path, attributes, date_joined, password_hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                params![
                    u.uuid,
                    u.username.clone(),
                    u.name.clone(),
                    u.email.clone(),
                    u.is_active,
                    u.path.clone(),
                    json_text(&u.attributes),
                    u.date_joined,
                    u.password_hash.clone()
                ],
            )
            .await?;
        row.int("id")
    }

    pub async fn set_user_password(&mut self, id: i64, password_hash: &str) -> StoreResult<()> {
        self.execute("UPDATE app_user SET password_hash = $2 WHERE id = $1", params![id, password_hash]).await.map(drop)
    }

    pub async fn group_by_name(&mut self, name: &str) -> StoreResult<Option<GroupRecord>> {
        let sql = format!("{GROUP_SELECT} WHERE name = $1 ORDER BY uuid LIMIT 1");
        self.fetch_optional(&sql, params![name]).await?.as_ref().map(group_from_row).transpose()
    }

    pub async fn group_by_uuid(&mut self, uuid: Uuid) -> StoreResult<Option<GroupRecord>> {
        let sql = format!("{GROUP_SELECT} WHERE uuid = $1");
        self.fetch_optional(&sql, params![uuid]).await?.as_ref().map(group_from_row).transpose()
    }

    pub async fn insert_group(&mut self, g: &GroupRecord) -> StoreResult<()> {
        self.execute(
            "INSERT INTO app_group (uuid, name, is_superuser, parent, attributes) VALUES ($1, $2, $3, $4, $5)",
            params![g.uuid, g.name.clone(), g.is_superuser, g.parent, json_text(&g.attributes)],
        )
        .await
        .map(drop)
    }

    /// Adds the user to the group; already a member is fine.
    pub async fn add_member(&mut self, group: Uuid, user_id: i64) -> StoreResult<()> {
        self.execute(
            "INSERT INTO group_member (group_uuid, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            params![group, user_id],
        )
        .await
        .map(drop)
    }

    pub async fn remove_member(&mut self, group: Uuid, user_id: i64) -> StoreResult<()> {
        self.execute("DELETE FROM group_member WHERE group_uuid = $1 AND user_id = $2", params![group, user_id])
            .await
            .map(drop)
    }

    /// Grants a global permission (by its authentik name) to a user.
    pub async fn grant_user_permission(&mut self, user_id: i64, permission: &str) -> StoreResult<()> {
        self.execute(
            "INSERT INTO user_permission (user_id, permission) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            params![user_id, permission],
        )
        .await
        .map(drop)
    }

    pub async fn revoke_user_permission(&mut self, user_id: i64, permission: &str) -> StoreResult<()> {
        self.execute("DELETE FROM user_permission WHERE user_id = $1 AND permission = $2", params![user_id, permission])
            .await
            .map(drop)
    }

    pub async fn grant_group_permission(&mut self, group: Uuid, permission: &str) -> StoreResult<()> {
        self.execute(
            "INSERT INTO group_permission (group_uuid, permission) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            params![group, permission],
        )
        .await
        .map(drop)
    }

    pub async fn revoke_group_permission(&mut self, group: Uuid, permission: &str) -> StoreResult<()> {
        self.execute("DELETE FROM group_permission WHERE group_uuid = $1 AND permission = $2", params![group, permission])
            .await
            .map(drop)
    }

    /// Global permissions a user holds directly or through their groups.
    pub async fn user_permissions(&mut self, user_id: i64) -> StoreResult<Vec<String>> {
        let rows = self
            .fetch_all(
                "SELECT permission FROM user_permission WHERE user_id = $1 UNION \
                 SELECT gp.permission FROM group_permission gp JOIN group_member gm ON gm.group_uuid = gp.group_uuid \
                 WHERE gm.user_id = $1",
                params![user_id],
            )
            .await?;
        rows.iter().map(|r| r.text("permission")).collect()
    }

    /// Permissions granted directly to a user (not through groups).
    pub async fn direct_user_permissions(&mut self, user_id: i64) -> StoreResult<Vec<String>> {
        let rows = self
            .fetch_all("SELECT permission FROM user_permission WHERE user_id = $1 ORDER BY permission", params![user_id])
            .await?;
        rows.iter().map(|r| r.text("permission")).collect()
    }

    pub async fn group_permissions(&mut self, group: Uuid) -> StoreResult<Vec<String>> {
        let rows = self
            .fetch_all("SELECT permission FROM group_permission WHERE group_uuid = $1 ORDER BY permission", params![group])
            .await?;
        rows.iter().map(|r| r.text("permission")).collect()
    }

    /// Is the user a member of a superuser group?
    pub async fn is_superuser(&mut self, user_id: i64) -> StoreResult<bool> {
        let row = self
            .fetch_one(
                "SELECT EXISTS (SELECT 1 FROM group_member gm JOIN app_group g ON g.uuid = gm.group_uuid \
                 WHERE gm.user_id = $1 AND g.is_superuser) AS s",
                params![user_id],
            )
            .await?;
        row.boolean("s")
    }

    /// The owner of the token with this key hash, in one query (the hot path of every request).
    pub async fn token_owner(&mut self, key_hash: &str) -> StoreResult<Option<TokenOwner>> {
        let row = self
            .fetch_optional(
                "SELECT u.id, u.username, u.is_active, t.intent, t.expiring, t.expires, \
                 EXISTS (SELECT 1 FROM group_member gm JOIN app_group g ON g.uuid = gm.group_uuid \
                         WHERE gm.user_id = u.id AND g.is_superuser) AS is_superuser \
                 FROM api_token t JOIN app_user u ON u.id = t.user_id WHERE t.key_hash = $1",
                params![key_hash],
            )
            .await?;
        row.map(|r| {
            Ok(TokenOwner {
                user_id: r.int("id")?,
                username: r.text("username")?,
                user_active: r.boolean("is_active")?,
                is_superuser: r.boolean("is_superuser")?,
                intent: r.text("intent")?,
                expiring: r.boolean("expiring")?,
                expires: r.opt_int("expires")?,
            })
        })
        .transpose()
    }

    pub async fn insert_token(&mut self, t: &TokenRecord) -> StoreResult<()> {
        self.execute(
            "INSERT INTO api_token (identifier, key_hash, key_encrypted, user_id, intent, description, expiring, expires, managed) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            token_params(t),
        )
        .await
        .map(drop)
    }

    /// Creates or replaces the token with this identifier (the bootstrap token).
    pub async fn upsert_token(&mut self, t: &TokenRecord) -> StoreResult<()> {
        self.execute("DELETE FROM api_token WHERE identifier = $1 OR key_hash = $2", params![t.identifier.clone(), t.key_hash.clone()])
            .await?;
        self.insert_token(t).await
    }

    pub async fn setting(&mut self, key: &str) -> StoreResult<Option<String>> {
        let row = self.fetch_optional("SELECT value FROM setting WHERE key = $1", params![key]).await?;
        row.map(|r| r.text("value")).transpose()
    }

    /// Stores `value` unless the key is already set; returns the value now stored (so several
    /// instances starting together agree on one generated secret).
    pub async fn setting_or_insert(&mut self, key: &str, value: &str) -> StoreResult<String> {
        self.execute("INSERT INTO setting (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING", params![key, value])
            .await?;
        Ok(self.setting(key).await?.unwrap_or_else(|| value.to_owned()))
    }
}

fn token_params(t: &TokenRecord) -> Vec<crate::db::Param> {
    params![
        t.identifier.clone(),
        t.key_hash.clone(),
        t.key_encrypted.clone(),
        t.user_id,
        t.intent.clone(),
        t.description.clone(),
        t.expiring,
        t.expires,
        t.managed.clone()
    ]
}
