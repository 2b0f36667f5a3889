//! API tokens: stored as their key's hash (and the key encrypted, for `view_key`).

use plexid_core::model::Token;
use plexid_core::modes::TokenIntent;
use plexid_core::{Timestamp, TokenId, UserId};

use crate::engine::{Access, Conn, ReadWrite};
use crate::error::StoreResult;
use crate::listing::{diff, Assignments, Filter, ListQuery, Listed, OrderTerm, Window};
use crate::params;
use crate::row::{Param, Row};

/// Who an API token belongs to, and whether it may be used.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenOwner {
    pub user: UserId,
    pub username: String,
    pub user_active: bool,
    pub is_superuser: bool,
    pub intent: TokenIntent,
    pub expiring: bool,
    pub expires: Option<Timestamp>,
}

#[derive(Clone, Debug, Default)]
pub struct TokenFilter {
    pub identifier: Option<String>,
    pub intent: Option<TokenIntent>,
    pub description: Option<String>,
    pub managed: Option<String>,
    pub user: Option<UserId>,
    /// Only this user's tokens (callers without global view permission).
    pub owner: Option<UserId>,
    pub search: Vec<String>,
}

pub const TOKEN_ORDERING: &[&str] = &["identifier", "intent", "description", "expires", "expiring", "user"];

/// Ordering terms whose column has another name (the others are their own column).
const ORDER_COLUMNS: &[(&str, &str)] = &[("user", "user_id")];

const SELECT: &str = "SELECT t.identifier, t.uuid, t.key_hash, t.key_encrypted, t.user_id, t.intent, t.description, \
                      t.expiring, t.expires, t.managed FROM api_token t";

fn from_row(row: &Row) -> StoreResult<Token> {
    Ok(Token {
        id: TokenId(row.uuid("uuid")?),
        identifier: row.text("identifier")?,
        key_hash: row.text("key_hash")?,
        key_encrypted: row.text("key_encrypted")?,
        user: UserId(row.int("user_id")?),
        intent: row.choice("intent", TokenIntent::parse)?,
        description: row.text("description")?,
        expiring: row.boolean("expiring")?,
        expires: row.opt_timestamp("expires")?,
        managed: row.opt_text("managed")?,
    })
}

impl<A: Access> Conn<'_, A> {
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
                user: UserId(r.int("id")?),
                username: r.text("username")?,
                user_active: r.boolean("is_active")?,
                is_superuser: r.boolean("is_superuser")?,
                intent: r.choice("intent", TokenIntent::parse)?,
                expiring: r.boolean("expiring")?,
                expires: r.opt_timestamp("expires")?,
            })
        })
        .transpose()
    }

    pub async fn list_tokens(
        &mut self,
        filter: &TokenFilter,
        ordering: &[OrderTerm],
        window: Window,
    ) -> StoreResult<Listed<Token>> {
        let mut f = Filter::default();
        f.eq("t.identifier", filter.identifier.clone());
        f.eq("t.intent", filter.intent.map(|i| i.as_str()));
        f.eq("t.description", filter.description.clone());
        f.eq("t.managed", filter.managed.clone());
        f.eq("t.user_id", filter.user);
        f.eq("t.user_id", filter.owner);
        f.search(&filter.search, &["t.identifier", "t.description"]);
        ListQuery { select: SELECT, columns: ORDER_COLUMNS, tiebreak: "identifier" }
            .run(self, f, ordering, window, from_row)
            .await
    }

    pub async fn token_by_identifier(&mut self, identifier: &str) -> StoreResult<Option<Token>> {
        let sql = format!("{SELECT} WHERE t.identifier = $1");
        self.fetch_optional(&sql, params![identifier]).await?.as_ref().map(from_row).transpose()
    }

    /// Identifiers of a user's tokens, for `used_by`.
    pub async fn token_identifiers_of_user(&mut self, user: UserId) -> StoreResult<Vec<String>> {
        let rows = self
            .fetch_all("SELECT identifier FROM api_token WHERE user_id = $1 ORDER BY identifier", params![user])
            .await?;
        rows.iter().map(|r| r.text("identifier")).collect()
    }
}

fn insert_params(t: &Token) -> Vec<Param> {
    params![
        &t.identifier,
        &t.key_hash,
        &t.key_encrypted,
        t.user,
        t.intent.as_str(),
        &t.description,
        t.expiring,
        t.expires,
        &t.managed,
        t.id
    ]
}

impl Conn<'_, ReadWrite> {
    /// The token, locked until the transaction ends.
    pub async fn token_for_update(&mut self, identifier: &str) -> StoreResult<Option<Token>> {
        let sql = format!("{SELECT} WHERE t.identifier = $1{}", self.dialect().for_update());
        self.fetch_optional(&sql, params![identifier]).await?.as_ref().map(from_row).transpose()
    }

    pub async fn insert_token(&mut self, t: &Token) -> StoreResult<()> {
        self.execute(
            "INSERT INTO api_token (identifier, key_hash, key_encrypted, user_id, intent, description, expiring, \
             expires, managed, uuid) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            insert_params(t),
        )
        .await
        .map(drop)
    }

    /// Creates or replaces the token with this identifier, key or `managed` value (the bootstrap
    /// token, also after it was renamed).
    pub async fn upsert_token(&mut self, t: &Token) -> StoreResult<()> {
        self.execute(
            "DELETE FROM api_token WHERE identifier = $1 OR key_hash = $2 OR managed = $3",
            params![&t.identifier, &t.key_hash, &t.managed],
        )
        .await?;
        self.insert_token(t).await
    }

    /// Writes the fields in which `after` differs from `before` (found by id; the identifier
    /// may change).
    pub async fn update_token(&mut self, before: &Token, after: &Token) -> StoreResult<()> {
        let mut set = Assignments::default();
        set.set("identifier", diff(&before.identifier, &after.identifier));
        set.set("intent", (before.intent != after.intent).then_some(after.intent.as_str()));
        set.set("description", diff(&before.description, &after.description));
        set.set("expiring", diff(&before.expiring, &after.expiring));
        set.set("expires", diff(&before.expires, &after.expires));
        set.set("user_id", diff(&before.user, &after.user));
        set.apply(self, "api_token", "uuid", after.id).await.map(drop)
    }

    pub async fn delete_token(&mut self, id: TokenId) -> StoreResult<bool> {
        Ok(self.execute("DELETE FROM api_token WHERE uuid = $1", params![id]).await? > 0)
    }
}
