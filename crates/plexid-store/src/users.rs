//! Users.

use plexid_core::login::Candidate;
use plexid_core::model::User;
use plexid_core::modes::UserType;
use plexid_core::{SourceId, UserId};
use serde_json::{Map, Value};

use crate::engine::{Access, Conn, ReadWrite};
use crate::error::StoreResult;
use crate::listing::{diff, Assignments, Filter, ListQuery, Listed, OrderTerm, Window};
use crate::params;
use crate::row::{Param, Row};

pub(crate) const COLUMNS: &str =
    "u.id, u.uuid, u.username, u.name, u.email, u.is_active, u.path, u.attributes, u.last_login, \
     u.date_joined, u.password_hash, u.user_type";
const SELECT: &str = "SELECT u.id, u.uuid, u.username, u.name, u.email, u.is_active, u.path, u.attributes, \
                      u.last_login, u.date_joined, u.password_hash, u.user_type FROM app_user u";

pub(crate) fn from_row(row: &Row) -> StoreResult<User> {
    Ok(User {
        id: UserId(row.int("id")?),
        uuid: row.uuid("uuid")?,
        username: row.text("username")?,
        name: row.text("name")?,
        email: row.text("email")?,
        is_active: row.boolean("is_active")?,
        path: row.text("path")?,
        attributes: row.json("attributes")?,
        last_login: row.opt_timestamp("last_login")?,
        date_joined: row.timestamp("date_joined")?,
        password_hash: row.opt_text("password_hash")?,
        user_type: row.choice("user_type", UserType::parse)?,
    })
}

pub(crate) fn json_text(map: &Map<String, Value>) -> String {
    Value::Object(map.clone()).to_string()
}

#[derive(Clone, Debug, Default)]
pub struct UserFilter {
    pub username: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub is_active: Option<bool>,
    pub path: Option<String>,
    pub uuid: Option<uuid::Uuid>,
    pub search: Vec<String>,
}

pub const USER_ORDERING: &[&str] = &["pk", "username", "name", "email", "is_active", "last_login", "path", "uuid"];

/// Ordering terms whose column has another name (the others are their own column).
const ORDER_COLUMNS: &[(&str, &str)] = &[("pk", "id")];

impl<A: Access> Conn<'_, A> {
    pub async fn user_by_id(&mut self, id: UserId) -> StoreResult<Option<User>> {
        let sql = format!("{SELECT} WHERE u.id = $1");
        self.fetch_optional(&sql, params![id]).await?.as_ref().map(from_row).transpose()
    }

    pub async fn user_by_username(&mut self, username: &str) -> StoreResult<Option<User>> {
        let sql = format!("{SELECT} WHERE u.username = $1");
        self.fetch_optional(&sql, params![username]).await?.as_ref().map(from_row).transpose()
    }

    /// The users with these ids (missing ones are left out).
    /// Users whose email equals `email` ignoring case (D18), as matching candidates.
    pub async fn users_with_email(&mut self, email: &str, source: SourceId) -> StoreResult<Vec<Candidate>> {
        self.candidates("WHERE lower(u.email) = lower($1) ORDER BY u.id", Param::from(email), source).await
    }

    /// The user called `username`, as a matching candidate.
    pub async fn users_with_username(&mut self, username: &str, source: SourceId) -> StoreResult<Vec<Candidate>> {
        self.candidates("WHERE u.username = $1", Param::from(username), source).await
    }

    /// The user `id`, as a candidate (the signed-in user connecting a Plex account).
    pub async fn candidate(&mut self, id: UserId, source: SourceId) -> StoreResult<Option<Candidate>> {
        Ok(self.candidates("WHERE u.id = $1", Param::from(id), source).await?.pop())
    }

    /// Is `username` taken?
    pub async fn username_taken(&mut self, username: &str) -> StoreResult<bool> {
        Ok(self.fetch_optional("SELECT id FROM app_user WHERE username = $1", params![username]).await?.is_some())
    }

    /// The users `condition` selects, with whether each is a superuser (D24).
    /// The users `condition` selects (on `value`, `$1`), with whether each is a superuser (D24) and
    /// has a connection to `source`.
    async fn candidates(&mut self, condition: &str, value: Param, source: SourceId) -> StoreResult<Vec<Candidate>> {
        let sql = format!(
            "SELECT u.id, u.is_active, EXISTS (SELECT 1 FROM group_member gm JOIN app_group g ON g.uuid = gm.group_uuid \
             WHERE gm.user_id = u.id AND g.is_superuser) AS is_superuser, \
             EXISTS (SELECT 1 FROM user_source_connection c WHERE c.user_id = u.id AND c.source_uuid = $2) AS has_connection \
             FROM app_user u {condition}"
        );
        let rows = self.fetch_all(&sql, vec![value, Param::from(source)]).await?;
        rows.iter()
            .map(|r| {
                Ok(Candidate {
                    user: UserId(r.int("id")?),
                    is_active: r.boolean("is_active")?,
                    is_superuser: r.boolean("is_superuser")?,
                    has_connection: r.boolean("has_connection")?,
                })
            })
            .collect()
    }

    pub async fn users_by_ids(&mut self, ids: &[UserId]) -> StoreResult<Vec<User>> {
        let rows = self.rows_in(&format!("{SELECT} WHERE u.id IN"), ids.iter().map(|id| Param::from(*id)), "").await?;
        rows.iter().map(from_row).collect()
    }

    /// Which of `ids` are users.
    pub async fn existing_users(&mut self, ids: &[UserId]) -> StoreResult<Vec<UserId>> {
        let rows =
            self.rows_in("SELECT id FROM app_user WHERE id IN", ids.iter().map(|id| Param::from(*id)), "").await?;
        rows.iter().map(|r| Ok(UserId(r.int("id")?))).collect()
    }

    pub async fn list_users(
        &mut self,
        filter: &UserFilter,
        ordering: &[OrderTerm],
        window: Window,
    ) -> StoreResult<Listed<User>> {
        let mut f = Filter::default();
        f.eq("username", filter.username.clone());
        f.eq("email", filter.email.clone());
        f.eq("name", filter.name.clone());
        f.eq("is_active", filter.is_active);
        f.eq("path", filter.path.clone());
        f.eq("uuid", filter.uuid);
        f.search(&filter.search, &["username", "name", "email", "uuid"]);
        ListQuery { select: SELECT, columns: ORDER_COLUMNS, tiebreak: "id" }
            .run(self, f, ordering, window, from_row)
            .await
    }
}

impl Conn<'_, ReadWrite> {
    /// The user, locked until the transaction ends (PostgreSQL; SQLite's writer is exclusive).
    pub async fn user_for_update(&mut self, id: UserId) -> StoreResult<Option<User>> {
        let sql = format!("{SELECT} WHERE u.id = $1{}", self.dialect().for_update());
        self.fetch_optional(&sql, params![id]).await?.as_ref().map(from_row).transpose()
    }

    /// Inserts the user (its `id` is ignored) and returns the id the database assigned.
    pub async fn insert_user(&mut self, u: &User) -> StoreResult<UserId> {
        let row = self
            .fetch_one(
                "INSERT INTO app_user (uuid, username, name, email, is_active, path, attributes, last_login, \
                 date_joined, password_hash, user_type) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
                params![
                    u.uuid,
                    &u.username,
                    &u.name,
                    &u.email,
                    u.is_active,
                    &u.path,
                    json_text(&u.attributes),
                    u.last_login,
                    u.date_joined,
                    &u.password_hash,
                    u.user_type.as_str()
                ],
            )
            .await?;
        Ok(UserId(row.int("id")?))
    }

    /// Writes the fields in which `after` differs from `before` (the user as read in this
    /// transaction).
    pub async fn update_user(&mut self, before: &User, after: &User) -> StoreResult<()> {
        let mut set = Assignments::default();
        set.set("username", diff(&before.username, &after.username));
        set.set("name", diff(&before.name, &after.name));
        set.set("email", diff(&before.email, &after.email));
        set.set("is_active", diff(&before.is_active, &after.is_active));
        set.set("path", diff(&before.path, &after.path));
        set.set("attributes", (before.attributes != after.attributes).then(|| json_text(&after.attributes)));
        set.set("last_login", diff(&before.last_login, &after.last_login));
        set.set("user_type", (before.user_type != after.user_type).then_some(after.user_type.as_str()));
        set.set("password_hash", diff(&before.password_hash, &after.password_hash));
        set.apply(self, "app_user", "id", after.id).await.map(drop)
    }

    pub async fn set_user_password(&mut self, id: UserId, password_hash: &str) -> StoreResult<()> {
        self.execute("UPDATE app_user SET password_hash = $2 WHERE id = $1", params![id, password_hash]).await.map(drop)
    }

    pub async fn delete_user(&mut self, id: UserId) -> StoreResult<bool> {
        Ok(self.execute("DELETE FROM app_user WHERE id = $1", params![id]).await? > 0)
    }
}
