//! Users, groups, memberships, permissions, API tokens and settings.

use uuid::Uuid;

use crate::db::{Conn, Param, Row};
use crate::error::StoreResult;
use crate::listing::{Filter, ListQuery, Listed, Window};
use crate::params;
use plexid_core::listing::OrderTerm;

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
    pub user_type: String,
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
    pub user_type: String,
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
    pub uuid: Uuid,
    pub key_hash: String,
    pub key_encrypted: String,
    pub user_id: i64,
    pub intent: String,
    pub description: String,
    pub expiring: bool,
    pub expires: Option<i64>,
    pub managed: Option<String>,
}

/// Who holds a permission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grantee {
    User(i64),
    Group(Uuid),
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
                           date_joined, password_hash, user_type FROM app_user";

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
        user_type: row.text("user_type")?,
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
                "INSERT INTO app_user (uuid, username, name, email, is_active, path, attributes, date_joined, password_hash, user_type) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
                params![
                    u.uuid,
                    u.username.clone(),
                    u.name.clone(),
                    u.email.clone(),
                    u.is_active,
                    u.path.clone(),
                    json_text(&u.attributes),
                    u.date_joined,
                    u.password_hash.clone(),
                    u.user_type.clone()
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

    /// Grants (`granted`) or revokes a global permission, by its authentik name.
    pub async fn set_permission(&mut self, grantee: Grantee, permission: &str, granted: bool) -> StoreResult<()> {
        let (table, column, key) = match grantee {
            Grantee::User(id) => ("user_permission", "user_id", Param::Int(id)),
            Grantee::Group(uuid) => ("group_permission", "group_uuid", Param::from(uuid)),
        };
        let sql = if granted {
            format!("INSERT INTO {table} ({column}, permission) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        } else {
            format!("DELETE FROM {table} WHERE {column} = $1 AND permission = $2")
        };
        self.execute(&sql, vec![key, Param::from(permission)]).await.map(drop)
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
            "INSERT INTO api_token (identifier, key_hash, key_encrypted, user_id, intent, description, expiring, expires, managed, uuid) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            token_params(t),
        )
        .await
        .map(drop)
    }

    /// Creates or replaces the token with this identifier (the bootstrap token).
    pub async fn upsert_token(&mut self, t: &TokenRecord) -> StoreResult<()> {
        self.execute(
            "DELETE FROM api_token WHERE identifier = $1 OR key_hash = $2",
            params![t.identifier.clone(), t.key_hash.clone()],
        )
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
        self.execute(
            "INSERT INTO setting (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
            params![key, value],
        )
        .await?;
        Ok(self.setting(key).await?.unwrap_or_else(|| value.to_owned()))
    }
}

fn token_params(t: &TokenRecord) -> Vec<Param> {
    params![
        t.identifier.clone(),
        t.key_hash.clone(),
        t.key_encrypted.clone(),
        t.user_id,
        t.intent.clone(),
        t.description.clone(),
        t.expiring,
        t.expires,
        t.managed.clone(),
        t.uuid
    ]
}

#[derive(Clone, Debug, Default)]
pub struct UserFilter {
    pub username: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub is_active: Option<bool>,
    pub path: Option<String>,
    pub uuid: Option<Uuid>,
    pub search: Vec<String>,
}

pub const USER_ORDERING: &[&str] = &["pk", "username", "name", "email", "is_active", "last_login", "path", "uuid"];

/// Ordering terms whose column has another name (the others are their own column).
const USER_COLUMNS: &[(&str, &str)] = &[("pk", "id")];

#[derive(Clone, Debug, Default)]
pub struct GroupFilter {
    pub name: Option<String>,
    pub is_superuser: Option<bool>,
    pub search: Vec<String>,
}

pub const GROUP_ORDERING: &[&str] = &["pk", "name", "is_superuser"];

/// Ordering terms whose column has another name (the others are their own column).
const GROUP_COLUMNS: &[(&str, &str)] = &[("pk", "uuid")];

#[derive(Clone, Debug, Default)]
pub struct TokenFilter {
    pub identifier: Option<String>,
    pub intent: Option<String>,
    pub description: Option<String>,
    pub managed: Option<String>,
    pub user: Option<i64>,
    /// Only this user's tokens (callers without global view permission).
    pub owner: Option<i64>,
    pub search: Vec<String>,
}

pub const TOKEN_ORDERING: &[&str] = &["identifier", "intent", "description", "expires", "expiring", "user"];

/// Ordering terms whose column has another name (the others are their own column).
const TOKEN_COLUMNS: &[(&str, &str)] = &[("user", "user_id")];

const TOKEN_SELECT: &str =
    "SELECT t.identifier, t.uuid, t.key_hash, t.key_encrypted, t.user_id, t.intent, t.description, \
                            t.expiring, t.expires, t.managed FROM api_token t";

fn token_from_row(row: &Row) -> StoreResult<TokenRecord> {
    Ok(TokenRecord {
        identifier: row.text("identifier")?,
        uuid: row.uuid("uuid")?,
        key_hash: row.text("key_hash")?,
        key_encrypted: row.text("key_encrypted")?,
        user_id: row.int("user_id")?,
        intent: row.text("intent")?,
        description: row.text("description")?,
        expiring: row.boolean("expiring")?,
        expires: row.opt_int("expires")?,
        managed: row.opt_text("managed")?,
    })
}

impl Conn<'_> {
    pub async fn list_users(
        &mut self,
        filter: &UserFilter,
        ordering: &[OrderTerm],
        window: Window,
    ) -> StoreResult<Listed<UserRecord>> {
        let mut f = Filter::default();
        f.eq("username", filter.username.clone());
        f.eq("email", filter.email.clone());
        f.eq("name", filter.name.clone());
        f.eq("is_active", filter.is_active);
        f.eq("path", filter.path.clone());
        f.eq("uuid", filter.uuid);
        f.search(&filter.search, &["username", "name", "email", "uuid"]);
        ListQuery { select: USER_SELECT, columns: USER_COLUMNS, tiebreak: "id" }
            .run(self, f, ordering, window, user_from_row)
            .await
    }

    /// The groups of each of these users: (user id, group).
    pub async fn groups_of_users(&mut self, users: &[i64]) -> StoreResult<Vec<(i64, GroupRecord)>> {
        let head = "SELECT gm.user_id, g.uuid, g.name, g.is_superuser, g.parent, g.attributes FROM group_member gm \
                    JOIN app_group g ON g.uuid = gm.group_uuid WHERE gm.user_id IN";
        let rows = self.rows_in(head, users.iter().map(|id| Param::Int(*id)), " ORDER BY g.name, g.uuid").await?;
        rows.iter().map(|r| Ok((r.int("user_id")?, group_from_row(r)?))).collect()
    }

    /// The members of each of these groups: (group uuid, user), by user id.
    pub async fn members_of_groups(&mut self, groups: &[Uuid]) -> StoreResult<Vec<(Uuid, UserRecord)>> {
        let head =
            "SELECT gm.group_uuid, u.id, u.uuid, u.username, u.name, u.email, u.is_active, u.path, u.attributes, \
                    u.last_login, u.date_joined, u.password_hash, u.user_type FROM group_member gm \
                    JOIN app_user u ON u.id = gm.user_id WHERE gm.group_uuid IN";
        let rows = self.rows_in(head, groups.iter().map(|id| Param::from(*id)), " ORDER BY u.id").await?;
        rows.iter().map(|r| Ok((r.uuid("group_uuid")?, user_from_row(r)?))).collect()
    }

    /// The users with these ids (missing ones are left out).
    pub async fn users_by_ids(&mut self, ids: &[i64]) -> StoreResult<Vec<UserRecord>> {
        let rows =
            self.rows_in(&format!("{USER_SELECT} WHERE id IN"), ids.iter().map(|id| Param::Int(*id)), "").await?;
        rows.iter().map(user_from_row).collect()
    }

    pub async fn update_user(&mut self, u: &UserRecord) -> StoreResult<()> {
        self.execute(
            "UPDATE app_user SET username = $2, name = $3, email = $4, is_active = $5, path = $6, attributes = $7, \
             last_login = $8, user_type = $9 WHERE id = $1",
            crate::params![
                u.id,
                u.username.clone(),
                u.name.clone(),
                u.email.clone(),
                u.is_active,
                u.path.clone(),
                json_text(&u.attributes),
                u.last_login,
                u.user_type.clone()
            ],
        )
        .await
        .map(drop)
    }

    pub async fn delete_user(&mut self, id: i64) -> StoreResult<bool> {
        Ok(self.execute("DELETE FROM app_user WHERE id = $1", params![id]).await? > 0)
    }

    /// Replaces a user's group memberships.
    pub async fn set_user_groups(&mut self, user_id: i64, groups: &[Uuid]) -> StoreResult<()> {
        self.execute("DELETE FROM group_member WHERE user_id = $1", params![user_id]).await?;
        for group in groups {
            self.add_member(*group, user_id).await?;
        }
        Ok(())
    }

    /// Replaces a group's members.
    pub async fn set_group_members(&mut self, group: Uuid, users: &[i64]) -> StoreResult<()> {
        self.execute("DELETE FROM group_member WHERE group_uuid = $1", params![group]).await?;
        for user in users {
            self.add_member(group, *user).await?;
        }
        Ok(())
    }

    pub async fn existing_users(&mut self, ids: &[i64]) -> StoreResult<Vec<i64>> {
        Ok(self.users_by_ids(ids).await?.iter().map(|u| u.id).collect())
    }

    pub async fn existing_groups(&mut self, ids: &[Uuid]) -> StoreResult<Vec<Uuid>> {
        self.existing("app_group", ids).await
    }

    pub async fn list_groups(
        &mut self,
        filter: &GroupFilter,
        ordering: &[OrderTerm],
        window: Window,
    ) -> StoreResult<Listed<GroupRecord>> {
        let mut f = Filter::default();
        f.eq("name", filter.name.clone());
        f.eq("is_superuser", filter.is_superuser);
        f.search(&filter.search, &["name"]);
        ListQuery { select: GROUP_SELECT, columns: GROUP_COLUMNS, tiebreak: "uuid" }
            .run(self, f, ordering, window, group_from_row)
            .await
    }

    pub async fn update_group(&mut self, g: &GroupRecord) -> StoreResult<()> {
        self.execute(
            "UPDATE app_group SET name = $2, is_superuser = $3, parent = $4, attributes = $5 WHERE uuid = $1",
            params![g.uuid, g.name.clone(), g.is_superuser, g.parent, json_text(&g.attributes)],
        )
        .await
        .map(drop)
    }

    pub async fn delete_group(&mut self, uuid: Uuid) -> StoreResult<bool> {
        Ok(self.execute("DELETE FROM app_group WHERE uuid = $1", params![uuid]).await? > 0)
    }

    pub async fn list_tokens(
        &mut self,
        filter: &TokenFilter,
        ordering: &[OrderTerm],
        window: Window,
    ) -> StoreResult<Listed<TokenRecord>> {
        let mut f = Filter::default();
        f.eq("t.identifier", filter.identifier.clone());
        f.eq("t.intent", filter.intent.clone());
        f.eq("t.description", filter.description.clone());
        f.eq("t.managed", filter.managed.clone());
        f.eq("t.user_id", filter.user);
        f.eq("t.user_id", filter.owner);
        f.search(&filter.search, &["t.identifier", "t.description"]);
        ListQuery { select: TOKEN_SELECT, columns: TOKEN_COLUMNS, tiebreak: "identifier" }
            .run(self, f, ordering, window, token_from_row)
            .await
    }

    pub async fn token_by_identifier(&mut self, identifier: &str) -> StoreResult<Option<TokenRecord>> {
        let sql = format!("{TOKEN_SELECT} WHERE t.identifier = $1");
        self.fetch_optional(&sql, params![identifier]).await?.as_ref().map(token_from_row).transpose()
    }

    /// Rewrites a token's editable fields (found by its uuid; the identifier may change).
    pub async fn update_token(&mut self, t: &TokenRecord) -> StoreResult<()> {
        self.execute(
            "UPDATE api_token SET identifier = $2, intent = $3, description = $4, expiring = $5, expires = $6, user_id = $7 \
             WHERE uuid = $1",
            params![t.uuid, t.identifier.clone(), t.intent.clone(), t.description.clone(), t.expiring, t.expires, t.user_id],
        )
        .await
        .map(drop)
    }

    pub async fn delete_token(&mut self, uuid: Uuid) -> StoreResult<bool> {
        Ok(self.execute("DELETE FROM api_token WHERE uuid = $1", params![uuid]).await? > 0)
    }

    /// Tokens of a user: (identifier) for `used_by`.
    pub async fn token_identifiers_of_user(&mut self, user_id: i64) -> StoreResult<Vec<String>> {
        let rows = self
            .fetch_all("SELECT identifier FROM api_token WHERE user_id = $1 ORDER BY identifier", params![user_id])
            .await?;
        rows.iter().map(|r| r.text("identifier")).collect()
    }
}
